"""Bounds on what a request can make the admin do, for every ModelAdmin and inline (ours and third-party).

Applied once, like the autocomplete patch in ``backoffice.admin_tools`` (which imports this module):

* a search keeps its first ``MAX_SEARCH_TERMS`` words and ``MAX_SEARCH_LENGTH`` characters, with a
  message on change lists — a 1,500-word search was a 500 on SQLite ("Expression tree is too large");
  change lists, autocomplete and Unfold's command search all go through ``ModelAdmin.get_search_results``;
* every inline formset has ``max_num``/``absolute_max`` of at most ``MAX_INLINE_FORMS``, and a
  posted ``TOTAL_FORMS`` above that builds no extra forms at all (it is refused with Django's
  "Please submit at most … forms") — ``TOTAL_FORMS=100000000`` once kept a worker busy 13 s;
* a list filter or date-hierarchy value out of range (``?created_at__year=99999999999999999999``,
  ``9999``, ``?customer=99999999999999999999``) is an invalid lookup (the list reloads with
  "?e=1"), not an ``OverflowError``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters, InlineModelAdmin, ModelAdmin
from django.contrib.admin.views.main import ChangeList
from django.forms.formsets import TOTAL_FORM_COUNT
from django.utils.text import smart_split
from django.utils.translation import gettext as _

from backoffice.limits import MAX_INLINE_FORMS, MAX_SEARCH_LENGTH, MAX_SEARCH_TERMS


def bounded_search_term(search_term: str) -> tuple[str, bool]:
    """The term cut to the allowed characters and words; True when something was left out."""
    text = search_term[:MAX_SEARCH_LENGTH]
    words = list(smart_split(text))
    kept = " ".join(words[:MAX_SEARCH_TERMS])
    return kept, len(search_term) > MAX_SEARCH_LENGTH or len(words) > MAX_SEARCH_TERMS


def _tell_search_was_cut(request) -> None:
    if request is None or getattr(request, "_search_cut_told", False):
        return
    request._search_cut_told = True
    # Only a change list shows the message; autocomplete and the command search answer without a page.
    url_name = getattr(getattr(request, "resolver_match", None), "url_name", "") or ""
    if url_name.endswith("_changelist") and hasattr(request, "_messages"):
        messages.warning(
            request,
            _("Only the first %(words)d words (at most %(chars)d characters) of the search were used.")
            % {"words": MAX_SEARCH_TERMS, "chars": MAX_SEARCH_LENGTH},
        )


_get_search_results = ModelAdmin.get_search_results


def _get_search_results_of_bounded_term(self, request, queryset, search_term):
    search_term, cut = bounded_search_term(search_term or "")
    if cut:
        _tell_search_was_cut(request)
    return _get_search_results(self, request, queryset, search_term)


ModelAdmin.get_search_results = _get_search_results_of_bounded_term


class BoundedFormSetMixin:
    """A bound formset whose management form claims more than ``absolute_max`` forms builds only
    the existing ones; ``full_clean`` still reports the claim as a non-form error."""

    def total_form_count(self):
        if self.is_bound and self.management_form.cleaned_data.get(TOTAL_FORM_COUNT, 0) > self.absolute_max:
            return self.initial_form_count()
        return super().total_form_count()


_get_formset = InlineModelAdmin.get_formset


def _get_bounded_formset(self, request, obj=None, **kwargs):
    max_num = kwargs.get("max_num", self.get_max_num(request, obj, **kwargs))
    kwargs["max_num"] = MAX_INLINE_FORMS if max_num is None else min(max_num, MAX_INLINE_FORMS)
    kwargs["absolute_max"] = min(kwargs.get("absolute_max") or MAX_INLINE_FORMS, MAX_INLINE_FORMS)
    formset = _get_formset(self, request, obj, **kwargs)
    return type(formset.__name__, (BoundedFormSetMixin, formset), {})


InlineModelAdmin.get_formset = _get_bounded_formset


_get_filters = ChangeList.get_filters


def _get_filters_of_values_in_range(self, request):
    try:
        return _get_filters(self, request)
    except (OverflowError, ValueError) as error:
        raise IncorrectLookupParameters(error) from error


ChangeList.get_filters = _get_filters_of_values_in_range

_get_results = ChangeList.get_results


def _get_results_of_values_in_range(self, request):
    # A filter on a foreign key with an id beyond 64 bits fails only when the query runs.
    try:
        return _get_results(self, request)
    except OverflowError as error:
        raise IncorrectLookupParameters(error) from error


ChangeList.get_results = _get_results_of_values_in_range
