"""The case list's filters: what a manager narrows the list by, all inside the tenant scope.

The querysets the choices come from are scoped as well: a city's staff choose among their
own offices and the contractors serving their city; contractor staff among the offices of
the cities their company serves, and their own company.
"""

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .deadlines import DeadlineBook
from .forms import DateInput, offices_for
from .forms_base import apply_form_pattern
from .models import CaseKind, Contractor, Membership, Role, Stage
from .permissions import CLOSED_STAGES
from .search import MAX_QUERY, normalise

# The values of the filters the work queues link to (overview/queues.py): the case list
# then holds exactly a queue's cases, in its order, all of them.
OPEN = "open"  # stage: any stage but closed or withdrawn
ME = "me"  # assignee: the user
NOBODY = "none"  # assignee: nobody yet
# Business days ahead within which a case counts as due soon (overdue included): the work
# queues' "due soon or overdue" and this list's filter of that name.
DUE_SOON_DAYS = 3

SORTS = {
    # value: (label, order_by); "-id" keeps pages stable when the first key ties.
    "-discovered": (_("Discovered on, newest first"), ("-discovered_on", "-id")),
    "discovered": (_("Discovered on, oldest first"), ("discovered_on", "id")),
    "reference": (_("Reference"), ("reference",)),
    "stage": (_("Stage"), ("stage_rank", "-discovered_on", "-id")),
    "stage-since": (_("Longest in its stage first"), ("stage_since", "id")),
}


def contractors_for(membership: Membership) -> QuerySet[Contractor]:
    if membership.role == Role.CONTRACTOR:
        return Contractor.objects.filter(pk=membership.contractor_id)
    return Contractor.objects.filter(municipalities=membership.municipality_id).order_by("name")


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Reference or name"),
        method="search",
        max_length=MAX_QUERY,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    stage = django_filters.ChoiceFilter(
        label=_("Stage"), choices=[(OPEN, _("Open (any stage)")), *Stage.choices], method="at_stage"
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=CaseKind.choices)
    office = django_filters.ModelChoiceFilter(label=_("Office / desk"), queryset=None)
    contractor = django_filters.ModelChoiceFilter(label=_("Contractor"), queryset=None)
    assignee = django_filters.ChoiceFilter(
        label=_("Assignee"),
        choices=[(ME, _("Me")), (NOBODY, _("Not assigned"))],
        method="by_assignee",
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue only"), method="only_overdue", widget=forms.CheckboxInput
    )
    due_soon = django_filters.BooleanFilter(
        label=_("Overdue or due within three business days"),
        method="only_due_soon",
        widget=forms.CheckboxInput,
    )
    discovered_from = django_filters.DateFilter(
        label=_("Discovered on or after"),
        field_name="discovered_on",
        lookup_expr="gte",
        widget=DateInput(),
    )
    discovered_to = django_filters.DateFilter(
        label=_("Discovered on or before"),
        field_name="discovered_on",
        lookup_expr="lte",
        widget=DateInput(),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        choices=[(value, label) for value, (label, _order) in SORTS.items()],
        empty_label=None,
        method="sort_by",
    )

    def __init__(self, data=None, *args, membership: Membership, deadlines: DeadlineBook, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.deadlines = deadlines
        self.user = membership.user
        if membership.role == Role.CONTRACTOR:  # a company's cases have no city assignee to pick
            del self.filters["assignee"]
        self.filters["office"].queryset = offices_for(membership)
        self.filters["contractor"].queryset = contractors_for(membership)
        if membership.role == Role.CONTRACTOR:
            self.filters["office"].field.label_from_instance = lambda o: (
                f"{o.municipality} {o.name}"
            )

    def get_form_class(self):
        base = super().get_form_class()

        class FilterForm(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                for name, field in self.fields.items():
                    apply_form_pattern(name, field, is_filter=True)

        return FilterForm

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        reference = value.replace("\x00", "").strip()
        key = normalise(value)
        if not key:
            return queryset
        # Search the party's normalised key, never the name as stored: 佐藤, さとう, ｻﾄｳ alike.
        # A case with two matching parties would appear twice without distinct().
        return queryset.filter(
            Q(reference__icontains=reference) | Q(parties__search_key__contains=key)
        ).distinct()

    def at_stage(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == OPEN:
            return queryset.exclude(stage__in=CLOSED_STAGES)
        return queryset.filter(stage=value)

    def by_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ME:
            return queryset.filter(assignee=self.user)
        return queryset.filter(assignee__isnull=True)

    def only_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(self.deadlines.overdue()) if value else queryset

    def only_due_soon(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        # The work queues' "due soon or overdue" (overview/queues.py), by the same clock.
        return queryset.filter(self.deadlines.due_within(DUE_SOON_DAYS)) if value else queryset

    def sort_by(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*SORTS[value][1])
