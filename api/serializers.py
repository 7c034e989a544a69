"""What the API answers with. Read-only shapes; writes take the pages' forms (forms_bridge)."""

from rest_framework import serializers

from cases.models import Case, CaseKind, CauseCategory, Stage, TimelineEvent
from jobs.models import JobKind, JobState
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


# ---- people, links, agencies, stage, ledger (views_more.py) ----------------------------------


class PartySerializer(serializers.Serializer):
    """A person as the case page shows them: name when identified, the rest masked."""

    id = serializers.IntegerField()
    label = serializers.CharField()
    identified = serializers.BooleanField()
    name = serializers.CharField(allow_blank=True)
    name_kana = serializers.CharField(allow_blank=True)
    identification_note = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True, help_text="Masked (＊＊＊＊1234).")
    address = serializers.CharField(allow_blank=True, help_text="Prefecture and city only.")
    account_number = serializers.CharField(allow_blank=True, help_text="Masked, or empty.")
    payment_account = serializers.CharField(allow_blank=True, help_text="Masked, or empty.")
    can_reveal = serializers.BooleanField(help_text="POST …/reveal/ shows more, audited.")


class RevealedSerializer(serializers.Serializer):
    """The details the role may see in clear (cases/reveal.py); the rest are left out."""

    label = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField(allow_blank=True))


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.IntegerField(source="source_id")
    target = serializers.IntegerField(source="target_id")
    data_kind = serializers.CharField()
    sentence = serializers.CharField()
    registered_on = serializers.DateField(allow_null=True)
    corrected_on = serializers.DateField(allow_null=True)
    paid_through = serializers.BooleanField()
    note = serializers.CharField(allow_blank=True)


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agencies = serializers.ListField(child=serializers.CharField())
    made_by = serializers.CharField()
    contacted_on = serializers.DateField()
    channel = serializers.CharField()
    request = serializers.CharField()
    answered_on = serializers.DateField(allow_null=True)
    answer = serializers.CharField(allow_blank=True)


class StepSerializer(serializers.Serializer):
    step = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField()
    allowed = serializers.BooleanField()
    needs_reason = serializers.BooleanField()
    blocked_because = serializers.ListField(child=serializers.CharField())


class StageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    stage_label = serializers.CharField()
    stage_since = serializers.DateField()
    steps = StepSerializer(many=True, help_text="The steps this user may take from here.")
    next_by_others = serializers.ListField(child=serializers.CharField())


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    party = serializers.IntegerField(source="party_id")
    party_label = serializers.CharField(source="party.label")
    kind = serializers.CharField()
    amount = serializers.IntegerField(source="delta", help_text="Yen; + owed to the person.")
    side = serializers.CharField(allow_blank=True)
    method = serializers.CharField(allow_blank=True)
    on = serializers.DateField()
    note = serializers.CharField(allow_blank=True)
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)


class BalanceSerializer(serializers.Serializer):
    party = serializers.IntegerField(source="party.pk")
    label = serializers.CharField(source="party.label")
    balance = serializers.IntegerField(source="amount")
    status = serializers.ChoiceField(choices=["owed", "excess", "settled"])


class LedgerSerializer(serializers.Serializer):
    head = serializers.IntegerField(help_text="The ETag of the case: send it as If-Match.")
    balances = BalanceSerializer(many=True)
    entries = LedgerEntrySerializer(many=True)


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    state = serializers.ChoiceField(choices=JobState.choices)
    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    summary = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
