"""The least-privilege set-up on PostgreSQL (docs/SECURITY.md): migrations run as the
tables' owner; the application connects as a role that owns nothing, so it can neither
switch the audit triggers off nor change the tables, and may only INSERT and SELECT audit
entries (and move a chain's head forward, which the head's trigger enforces)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from cases.models import AuditEntry, AuditHead


def grant_statements(role: str) -> list[str]:
    """What the owner runs after every migration (new tables need their grants too)."""
    quoted = connection.ops.quote_name(role)
    entries = connection.ops.quote_name(AuditEntry._meta.db_table)
    heads = connection.ops.quote_name(AuditHead._meta.db_table)
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        # The trail: written and read, never changed, deleted or emptied.
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {entries} FROM {quoted}",
        f"REVOKE DELETE, TRUNCATE, REFERENCES, TRIGGER ON {heads} FROM {quoted}",
    ]


class Command(BaseCommand):
    help = (
        "Print (or, with --apply, run as the tables' owner) the grants that let ROLE run "
        "Tadasu with least privilege on PostgreSQL: full use of the tables, but audit entries "
        "only inserted and read. Run it after every migration."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="the role the application connects as")
        parser.add_argument("--apply", action="store_true", help="run the statements now")

    def handle(self, *args, role: str, apply: bool, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Roles and grants are PostgreSQL's; SQLite has none.")
        statements = grant_statements(role)
        if not apply:
            for sql in statements:
                self.stdout.write(sql + ";")
            return
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        self.stdout.write(self.style.SUCCESS(f"{len(statements)} grants applied to {role}."))
