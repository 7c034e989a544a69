"""Compare the ledger totals with the ledger entries, or rebuild them.

    manage.py ledger_totals --check     # exit 1 and list what differs
    manage.py ledger_totals --rebuild   # recompute every total from the entries

Two kinds of totals are kept by the ledger services in the same transaction as each entry:
one row per case (LedgerTotal) and, summed from those, one row per municipality and
contractor of the case (CityLedgerTotal, which the dashboard reads). This is the audit of
that bookkeeping, and the repair after rows were loaded around the services.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_scopes import scopes_disabled

from remedies.ledger import (
    TOTAL_FIELDS,
    derived_city_totals,
    rebuild_city_totals,
    totals_from_rows,
)
from remedies.models import CityLedgerTotal, LedgerEntry, LedgerTotal


class Command(BaseCommand):
    help = "Check or rebuild the ledger totals the dashboard reads."

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
                cities = rebuild_city_totals()
                self.stdout.write(
                    f"rebuilt the totals of {len(derived)} case(s) "
                    f"and {cities} municipality and contractor row(s)"
                )
                return
            stored = {
                row[0]: dict(zip(TOTAL_FIELDS, row[1:], strict=True))
                for row in LedgerTotal.objects.values_list("case_id", *TOTAL_FIELDS)
            }
            zero = dict.fromkeys(TOTAL_FIELDS, 0)
            wrong = sorted(
                case_id
                for case_id in set(stored) | set(derived)
                if stored.get(case_id, zero) != derived.get(case_id, zero)
            )
            # Only once the per-case totals are right can their sums be checked against them.
            cities = derived_city_totals()
            stored_cities = {
                (row[0], row[1]): dict(zip(TOTAL_FIELDS, row[2:], strict=True))
                for row in CityLedgerTotal.objects.values_list(
                    "municipality_id", "contractor_id", *TOTAL_FIELDS
                )
            }
            wrong_cities = sorted(
                (
                    key
                    for key in set(cities) | set(stored_cities)
                    if stored_cities.get(key, zero) != cities.get(key, zero)
                ),
                key=lambda k: (k[0], k[1] or 0),
            )
        problems = []
        if wrong:
            shown = ", ".join(str(c) for c in wrong[:20])
            problems.append(f"{len(wrong)} case(s) differ from their entries: {shown}")
        if wrong_cities:
            shown = ", ".join(f"{m}/{c or '-'}" for m, c in wrong_cities[:20])
            problems.append(
                f"{len(wrong_cities)} municipality/contractor total(s) differ from their "
                f"cases: {shown}"
            )
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write(
            f"the totals of {len(derived)} case(s) and {len(cities)} municipality and "
            "contractor row(s) match their entries"
        )
