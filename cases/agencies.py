"""The national agencies and programme desks every municipality reports to or asks
(関係機関照会): reference data present in every database, not only where the demo ran.

Migration 0016 writes them; `load_demo` and tests call `ensure_reference_agencies` too, for
databases emptied after migrating (a flushed test database). Matched by name, so a database
where they were entered by hand or by an older `load_demo` gets no duplicates. Superusers
add and edit agencies (a payment operator by name, a prefecture's desk) in the admin.
"""

# (name, kind): kind as cases.models.Agency.Kind, spelt out so that a migration can use it.
REFERENCE_AGENCIES: tuple[tuple[str, str], ...] = (
    ("デジタル庁", "national"),
    ("総務省", "national"),
    ("マイナポイント緊急窓口", "helpdesk"),
    ("キャッシュレス決済事業者", "payment_operator"),
)


def ensure_reference_agencies(agency_model) -> int:
    """Create the reference agencies that are missing; how many were created. Takes the
    model as an argument so that a migration can pass its historical model."""
    existing = set(
        agency_model.objects.filter(name__in=[n for n, _ in REFERENCE_AGENCIES]).values_list(
            "name", flat=True
        )
    )
    missing = [agency_model(name=n, kind=k) for n, k in REFERENCE_AGENCIES if n not in existing]
    agency_model.objects.bulk_create(missing)
    return len(missing)
