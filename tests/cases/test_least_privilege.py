"""The least-privilege set-up on PostgreSQL: the application's role can write cases and
audit entries, but cannot change, delete or empty the trail, nor switch its triggers off
(it owns no table). Migrations run as the owner."""

import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from cases.audit import audit_log
from cases.models import AuditEntry

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="roles and grants are PostgreSQL's"
    ),
    pytest.mark.django_db,
]
ROLE = "tadasu_app_least_privilege_test"


@pytest.fixture
def as_app_role():
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    call_command("grant_app_role", ROLE, "--apply", stdout=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {ROLE}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _refused(sql: str, params=()) -> str:
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(refusal.value)


def test_the_app_role_writes_the_trail_but_cannot_rewrite_it(world, as_app_role):
    entry = audit_log("tadasu.auth.login", by=world.staff)  # INSERT, and the head moved
    assert AuditEntry.objects.filter(pk=entry.pk).exists()  # SELECT
    for sql in (
        "UPDATE cases_auditentry SET action = 'x' WHERE id = %s",
        "DELETE FROM cases_auditentry WHERE id = %s",
        "DELETE FROM cases_audithead WHERE last_id = %s",
    ):
        assert "permission denied" in _refused(sql, [entry.pk])
    assert "permission denied" in _refused("TRUNCATE cases_auditentry")
    assert "must be owner" in _refused(
        "ALTER TABLE cases_auditentry DISABLE TRIGGER cases_auditentry_append_only"
    )
    assert "must be owner" in _refused(
        "DROP TRIGGER cases_auditentry_append_only ON cases_auditentry"
    )


def test_the_grants_are_printed_for_the_owner_to_run():
    out = io.StringIO()
    call_command("grant_app_role", "tadasu_app", stdout=out)
    printed = out.getvalue()
    assert 'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "cases_auditentry"' in printed
