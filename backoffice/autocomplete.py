"""Autocomplete widgets that do not query once per inline row.

Django's ``AutocompleteSelect`` renders the selected option by querying the related model
for every form it is in, so an inline of 200 price-list rows costs 200 extra queries.
``LoadedAutocompleteInlineMixin`` hands each row's widget the related object already loaded
with the row (the inline's ``get_queryset`` must ``select_related`` it); a value that was not
loaded (a bound form after a failed POST, an extra empty form) falls back to Django's query.
"""

from __future__ import annotations

from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator


class LoadedAutocompleteSelect(AutocompleteSelect):
    """``AutocompleteSelect`` that labels the selected value from an object given in ``loaded``."""

    loaded: dict[str, object] | None = None

    def optgroups(self, name, value, attr=None):
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        loaded = self.loaded or {}
        if not selected or not selected <= loaded.keys():
            return super().optgroups(name, value, attr)
        default = (None, [], 0)
        if not self.is_required and not self.allow_multiple_selected:
            default[1].append(self.create_option(name, "", "", False, 0))
        has_selected = False
        for key in sorted(selected):
            obj = loaded[key]
            is_selected = key in value and (has_selected is False or self.allow_multiple_selected)
            has_selected |= is_selected
            label = self.choices.field.label_from_instance(obj)
            default[1].append(self.create_option(name, key, label, selected, len(default[1])))
        return [default]


class LoadedAutocompleteInlineMixin:
    """Inline (or admin) mixin: autocomplete fields render from the rows' loaded related objects."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = LoadedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        names = tuple(self.get_autocomplete_fields(request))

        class LoadedChoicesFormSet(formset):
            def _construct_form(self, i, **form_kwargs):
                form = super()._construct_form(i, **form_kwargs)
                give_loaded_objects(form, names)
                return form

        LoadedChoicesFormSet.__name__ = formset.__name__
        return LoadedChoicesFormSet


def give_loaded_objects(form, names) -> None:
    """Tell each autocomplete widget of ``form`` the related objects its instance already holds."""
    instance = form.instance
    for name in names:
        field = form.fields.get(name)
        widget = getattr(getattr(field, "widget", None), "widget", getattr(field, "widget", None))
        if not isinstance(widget, LoadedAutocompleteSelect):
            continue
        model_field = instance._meta.get_field(name)
        if not model_field.is_cached(instance):
            continue
        related = getattr(instance, name)
        if related is not None:
            widget.loaded = {str(getattr(related, model_field.target_field.attname)): related}


# ---------------------------------------------------------------------------
# Choosers: a form field that searches an admin's autocomplete instead of listing every row


def autocomplete_source(request) -> str | None:
    """``"app_label.model_name.field_name"`` of the admin autocomplete request being answered, else None."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name != "autocomplete":
        return None
    return ".".join(request.GET.get(key, "") for key in ("app_label", "model_name", "field_name"))


class ChooserAutocompleteMixin:
    """Admin mixin: narrow this admin's autocomplete when it answers for one particular chooser.

    ``autocomplete_limits`` maps ``"app_label.model_name.field_name"`` (the foreign key the chooser
    stands for) to a ``Q``: e.g. the *add shipment* chooser offers only open sales orders. The rows
    are still the admin's own ``get_queryset`` (warehouse scope) and search (``search_fields``).
    """

    autocomplete_limits: dict = {}

    def get_search_results(self, request, queryset, search_term):
        limit = self.autocomplete_limits.get(autocomplete_source(request))
        if limit is not None:
            queryset = queryset.filter(limit)
        return super().get_search_results(request, queryset, search_term)


def chooser_widget(model, field_name: str, admin_site=None) -> AutocompleteSelect:
    """Autocomplete widget for a plain form field standing for ``model.field_name`` (a foreign key)."""
    from django.contrib import admin

    return AutocompleteSelect(model._meta.get_field(field_name), admin_site or admin.site)


# ---------------------------------------------------------------------------
# Autocomplete pages without a full count


class PeekPage(Page):
    """A page that knows whether a next page exists from one extra row, not from a count."""

    def __init__(self, object_list, number, paginator, has_more: bool):
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self):
        return self.has_more

    def end_index(self):
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)


class PeekPaginator(Paginator):
    """Paginator that never counts: ``page(n)`` reads ``per_page + 1`` rows to know if more follow.

    ``count`` and ``num_pages`` still work (they count) but the autocomplete never asks for them.
    """

    def validate_number(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        return PeekPage(rows[: self.per_page], number, self, has_more=len(rows) > self.per_page)


def _autocomplete_paginator(self, queryset, per_page, orphans=0, allow_empty_first_page=True):
    return PeekPaginator(queryset, per_page, orphans=0, allow_empty_first_page=allow_empty_first_page)


# Django's view would use the model admin's paginator (a counting one); autocomplete needs no count.
AutocompleteJsonView.get_paginator = _autocomplete_paginator


# ---------------------------------------------------------------------------
# Extra keys in autocomplete results

_autocomplete_context = AutocompleteJsonView.get_context_data
_autocomplete_result = AutocompleteJsonView.serialize_result


def _context_with_details(self, **kwargs):
    """Ask the answering admin, once per page, for extra keys of its results (``autocomplete_result_details``).

    An admin may define ``autocomplete_result_details(request, objects) -> {pk: {key: value}}``: the
    product picker of order lines adds price, tax rate and stock (``orders.admin.line_entry``) in a
    fixed number of queries per page. The keys reach select2 with each result; ``text`` stays the label.
    """
    context = _autocomplete_context(self, **kwargs)
    describe = getattr(self.model_admin, "autocomplete_result_details", None)
    self.result_details = describe(self.request, list(context["object_list"])) if describe else {}
    return context


def _result_with_details(self, obj, to_field_name):
    result = _autocomplete_result(self, obj, to_field_name)
    extra = getattr(self, "result_details", {}).get(obj.pk)
    return {**extra, **result} if extra else result


AutocompleteJsonView.get_context_data = _context_with_details
AutocompleteJsonView.serialize_result = _result_with_details
