"""Append-only in the database itself: UPDATE and DELETE of audit entries are refused by
triggers, so not even a bug or a hand-written query in the app can rewrite the trail."""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER cases_auditentry_no_update BEFORE UPDATE ON cases_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER cases_auditentry_no_delete BEFORE DELETE ON cases_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS cases_auditentry_no_update",
    "DROP TRIGGER IF EXISTS cases_auditentry_no_delete",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION cases_auditentry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER cases_auditentry_append_only BEFORE UPDATE OR DELETE ON cases_auditentry
       FOR EACH ROW EXECUTE FUNCTION cases_auditentry_append_only()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS cases_auditentry_append_only ON cases_auditentry",
    "DROP FUNCTION IF EXISTS cases_auditentry_append_only()",
]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0006_audit_chain"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        ),
    ]
