"""Lists that turn into cards at phone width (``templates/admin/phone_cards_results.html``).

``{% phone_cell item cl forloop.counter0 %}`` gives a rendered list cell its column's label
(``data-label``, shown in front of the value on a phone) and its place on the card (``data-card``:
``title``, ``key`` or ``extra``) from the admin's ``phone_card_fields``: the first is the card's
title, the others its key lines; the remaining columns are left out at phone width. The desktop table
is unchanged (``backoffice/static/backoffice/css/backoffice.css``).
"""

from __future__ import annotations

import re

from django import template
from django.contrib.admin.utils import label_for_field
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

register = template.Library()

#: the opening tag of a rendered cell: the attributes go at its end (after ``class``)
_CELL_START = re.compile(r"^(\s*<(?:td|th)\b[^>]*)>")


def _columns(cl) -> list[tuple[str, str]]:
    """(label, place) per column of ``cl``, computed once per list."""
    columns = getattr(cl, "_phone_columns", None)
    if columns is None:
        card = tuple(getattr(cl.model_admin, "phone_card_fields", ()))
        columns = []
        for name in cl.list_display:
            if name == "action_checkbox":
                columns.append(("", "extra"))
                continue
            try:
                label = str(capfirst(label_for_field(name, cl.model, cl.model_admin)))
            except AttributeError:
                label = ""
            place = "title" if card and name == card[0] else ("key" if name in card else "extra")
            columns.append((label, place))
        cl._phone_columns = columns
    return columns


@register.simple_tag
def phone_cell(cell, cl, index: int):
    columns = _columns(cl)
    if not 0 <= index < len(columns):
        return cell
    label, place = columns[index]
    attributes = f' data-label="{escape(label)}" data-card="{place}"'
    return mark_safe(_CELL_START.sub(lambda m: f"{m.group(1)}{attributes}>", str(cell), count=1))
