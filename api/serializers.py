"""What the API answers with. Read-only shapes; writes take the pages' forms (forms_bridge)."""

from rest_framework import serializers

from cases.models import Case, CaseKind, CauseCategory, Stage, TimelineEvent
from remedies.models import Purpose, Visit


class CaseSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=CaseKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    stage = serializers.ChoiceField(choices=Stage.choices)
    stage_label = serializers.CharField(source="get_stage_display")
    cause_category = serializers.ChoiceField(choices=CauseCategory.choices, allow_blank=True)
    municipality = serializers.CharField(source="municipality.name")
    office = serializers.CharField(source="office.name")
    contractor = serializers.CharField(source="contractor.name", allow_null=True)

    class Meta:
        model = Case
        fields = [
            "reference",
            "kind",
            "kind_label",
            "stage",
            "stage_label",
            "stage_since",
            "municipality",
            "office",
            "contractor",
            "occurred_on",
            "discovered_on",
            "opened_on",
            "reported_by_contractor",
            "summary",
            "discovery",
            "cause_category",
            "cause_text",
            "prevention",
        ]
        read_only_fields = fields


class CasePageSerializer(serializers.Serializer):
    """One page of the case list (25 cases), with links to the pages beside it."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CaseSerializer(many=True)


class PartyLabelSerializer(serializers.Serializer):
    """A person of the case by label only (A氏): what a visit or an entry names."""

    id = serializers.IntegerField()
    label = serializers.CharField()
    identified = serializers.BooleanField()


class CaseDetailSerializer(CaseSerializer):
    parties = PartyLabelSerializer(many=True, source="party_list")
    ledger_head = serializers.IntegerField(
        help_text='The newest ledger entry\'s id; send it as If-Match: "<ledger_head>" '
        "with a write that moves money (visits, payments, collections)."
    )

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "parties", "ledger_head"]
        read_only_fields = fields


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ["id", "occurred_on", "actor", "text", "public", "in_story"]
        read_only_fields = fields


class VisitSerializer(serializers.ModelSerializer):
    party = serializers.IntegerField(source="party_id")
    party_label = serializers.CharField(source="party.label")
    purpose = serializers.ChoiceField(choices=Purpose.choices)

    class Meta:
        model = Visit
        fields = [
            "id",
            "party",
            "party_label",
            "visited_on",
            "place",
            "purpose",
            "apologised",
            "city_attendees",
            "contractor_attendees",
            "outcome",
        ]
        read_only_fields = fields
