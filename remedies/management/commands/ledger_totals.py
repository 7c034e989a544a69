"""Compare every case's LedgerTotal with its ledger entries, or rebuild them.

    manage.py ledger_totals --check     # exit 1 and list the cases that differ
    manage.py ledger_totals --rebuild   # recompute every total from the entries

The totals are kept by the ledger services in the same transaction as each entry; this is
the audit of that bookkeeping, and the repair after rows were loaded around the services.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from remedies.ledger import COST_FIELDS, totals_from_rows
from remedies.models import LedgerEntry, LedgerTotal

FIELDS = ["owed", "held", *COST_FIELDS.values()]


class Command(BaseCommand):
    help = "Check or rebuild the per-case ledger totals the dashboard reads."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--check", action="store_true")
        group.add_argument("--rebuild", action="store_true")

    def handle(self, *args, check: bool, rebuild: bool, **options):
        with scopes_disabled(), transaction.atomic():
            rows = LedgerEntry.objects.values_list("case_id", "party_id", "kind", "side", "delta")
            derived = totals_from_rows(rows.iterator(chunk_size=5000))
            if rebuild:
                LedgerTotal.objects.all().delete()
                LedgerTotal.objects.bulk_create(
                    [LedgerTotal(case_id=case_id, **v) for case_id, v in derived.items()],
                    batch_size=5000,
                )
                self.stdout.write(f"rebuilt the totals of {len(derived)} case(s)")
                return
            stored = {
                row["case_id"]: {f: row[f] for f in FIELDS}
                for row in LedgerTotal.objects.values("case_id", *FIELDS)
            }
            zero = dict.fromkeys(FIELDS, 0)
            wrong = sorted(
                case_id
                for case_id in set(stored) | set(derived)
                if stored.get(case_id, zero) != derived.get(case_id, zero)
            )
        if wrong:
            shown = ", ".join(str(c) for c in wrong[:20])
            raise CommandError(f"{len(wrong)} case(s) differ from their entries: {shown}")
        self.stdout.write(f"the totals of {len(derived)} case(s) match their entries")
