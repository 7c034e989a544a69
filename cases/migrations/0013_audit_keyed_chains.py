"""One keyed chain per municipality, and a database that refuses more.

Entries move from one SHA-256 chain for the whole deployment to one chain per municipality
(chain 0: events of no municipality), each entry sealed with an HMAC keyed by
TADASU_AUDIT_KEYS. Existing entries are first checked against the old chain (the migration
stops if it is broken: a trail already tampered with is not sealed anew), then sealed in
their new chains in id order.

The triggers (the statements below are also used by the tests that must empty the table):
the append-only triggers of 0007, plus TRUNCATE refused while the table holds entries
(PostgreSQL), INSERT OR REPLACE over an existing entry refused (SQLite, whose REPLACE deletes
without firing delete triggers), and a chain head that may only move forward and never be
deleted.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER cases_auditentry_no_update BEFORE UPDATE ON cases_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER cases_auditentry_no_delete BEFORE DELETE ON cases_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER cases_auditentry_no_replace BEFORE INSERT ON cases_auditentry
       WHEN EXISTS (SELECT 1 FROM cases_auditentry
                    WHERE id = NEW.id OR (chain = NEW.chain AND seq = NEW.seq))
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER cases_audithead_forward BEFORE UPDATE ON cases_audithead
       WHEN NEW.seq < OLD.seq OR NEW.chain <> OLD.chain OR NEW.id <> OLD.id
       BEGIN SELECT RAISE(ABORT, 'an audit chain head only moves forward'); END""",
    """CREATE TRIGGER cases_audithead_no_delete BEFORE DELETE ON cases_audithead
       BEGIN SELECT RAISE(ABORT, 'an audit chain head only moves forward'); END""",
    """CREATE TRIGGER cases_audithead_no_replace BEFORE INSERT ON cases_audithead
       WHEN EXISTS (SELECT 1 FROM cases_audithead WHERE id = NEW.id OR chain = NEW.chain)
       BEGIN SELECT RAISE(ABORT, 'an audit chain head only moves forward'); END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS cases_auditentry_no_update",
    "DROP TRIGGER IF EXISTS cases_auditentry_no_delete",
    "DROP TRIGGER IF EXISTS cases_auditentry_no_replace",
    "DROP TRIGGER IF EXISTS cases_audithead_forward",
    "DROP TRIGGER IF EXISTS cases_audithead_no_delete",
    "DROP TRIGGER IF EXISTS cases_audithead_no_replace",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION cases_auditentry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER cases_auditentry_append_only BEFORE UPDATE OR DELETE ON cases_auditentry
       FOR EACH ROW EXECUTE FUNCTION cases_auditentry_append_only()""",
    # TRUNCATE fires no row trigger. An empty table may be truncated (a test database's
    # flush); one holding entries may not.
    """CREATE OR REPLACE FUNCTION cases_audit_no_truncate() RETURNS trigger AS $$
       DECLARE found boolean;
       BEGIN
         EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', TG_TABLE_NAME) INTO found;
         IF found THEN RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
         END IF;
         RETURN NULL;
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER cases_auditentry_no_truncate BEFORE TRUNCATE ON cases_auditentry
       FOR EACH STATEMENT EXECUTE FUNCTION cases_audit_no_truncate()""",
    """CREATE OR REPLACE FUNCTION cases_audithead_forward() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq OR NEW.chain <> OLD.chain
            OR NEW.id <> OLD.id THEN
           RAISE EXCEPTION 'an audit chain head only moves forward';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER cases_audithead_forward BEFORE UPDATE OR DELETE ON cases_audithead
       FOR EACH ROW EXECUTE FUNCTION cases_audithead_forward()""",
    """CREATE TRIGGER cases_audithead_no_truncate BEFORE TRUNCATE ON cases_audithead
       FOR EACH STATEMENT EXECUTE FUNCTION cases_audit_no_truncate()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS cases_auditentry_append_only ON cases_auditentry",
    "DROP TRIGGER IF EXISTS cases_auditentry_no_truncate ON cases_auditentry",
    "DROP TRIGGER IF EXISTS cases_audithead_forward ON cases_audithead",
    "DROP TRIGGER IF EXISTS cases_audithead_no_truncate ON cases_audithead",
    "DROP FUNCTION IF EXISTS cases_audithead_forward()",
    "DROP FUNCTION IF EXISTS cases_audit_no_truncate()",
]
# The triggers of 0007, dropped before the entries are sealed anew.
OLD = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS cases_auditentry_no_update",
        "DROP TRIGGER IF EXISTS cases_auditentry_no_delete",
    ],
    "postgresql": ["DROP TRIGGER IF EXISTS cases_auditentry_append_only ON cases_auditentry"],
}


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


def _old_hash(entry, previous: str) -> str:
    # cases.audit.entry_hash as it was (0006), repeated: migrations must not import it.
    content = {
        "prev": previous, "at": entry.at.isoformat(), "user": entry.user_id,
        "role": entry.role, "action": entry.action,
        "municipality": entry.municipality_id, "case": entry.case_id,
        "object_type": entry.object_type, "object_id": entry.object_id,
        "data": entry.data, "client_address": entry.client_address,
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def _mac(entry, key: bytes) -> str:
    # cases.audit.entry_mac as of this migration.
    content = {
        "chain": entry.chain, "seq": entry.seq, "prev": entry.prev_mac,
        "at": entry.at.isoformat(), "user": entry.user_id, "role": entry.role,
        "action": entry.action, "municipality": entry.municipality_id,
        "case": entry.case_id, "object_type": entry.object_type,
        "object_id": entry.object_id, "data": entry.data,
        "client_address": entry.client_address,
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()


def seal_in_chains(apps, schema_editor):
    AuditEntry = apps.get_model("cases", "AuditEntry")
    AuditHead = apps.get_model("cases", "AuditHead")
    AuditHead.objects.all().delete()
    if not AuditEntry.objects.exists():
        return
    if not settings.AUDIT_KEYS:
        raise RuntimeError("TADASU_AUDIT_KEYS must be set to seal the existing audit entries.")
    key = settings.AUDIT_KEYS[0].encode()
    key_id = hashlib.sha256(b"tadasu-audit-key-id:" + key).hexdigest()[:12]
    previous = "0" * 64
    heads: dict[int, tuple[int, int, str]] = {}
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        if entry.prev_mac != previous or _old_hash(entry, previous) != entry.mac:
            raise RuntimeError(
                f"Audit entry {entry.pk} does not verify against the old chain: the trail was "
                "changed before this migration. Investigate before sealing it anew."
            )
        previous = entry.mac
        chain = entry.municipality_id or 0
        seq, _, prev = heads.get(chain, (0, 0, "0" * 64))
        entry.chain, entry.seq, entry.prev_mac, entry.key_id = chain, seq + 1, prev, key_id
        entry.mac = _mac(entry, key)
        entry.save(update_fields=["chain", "seq", "prev_mac", "key_id", "mac"])
        heads[chain] = (entry.seq, entry.pk, entry.mac)
    for chain, (seq, last_id, mac) in heads.items():
        AuditHead.objects.create(chain=chain, seq=seq, last_id=last_id, last_mac=mac)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0012_queue_index"),
    ]

    operations = [
        migrations.RunPython(_run(OLD), migrations.RunPython.noop),
        migrations.RenameField("auditentry", "prev_hash", "prev_mac"),
        migrations.RenameField("auditentry", "hash", "mac"),
        migrations.AlterField(
            model_name="auditentry", name="mac", field=models.CharField(max_length=64)
        ),
        migrations.AddField(
            model_name="auditentry", name="chain", field=models.BigIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="auditentry",
            name="seq",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(default="", max_length=16),
            preserve_default=False,
        ),
        migrations.RenameField("audithead", "last_hash", "last_mac"),
        migrations.AddField(
            model_name="audithead", name="chain", field=models.BigIntegerField(null=True)
        ),
        migrations.AddField(
            model_name="audithead", name="seq", field=models.BigIntegerField(default=0)
        ),
        migrations.RunPython(seal_in_chains, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="audithead", name="chain", field=models.BigIntegerField(unique=True)
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(fields=("chain", "seq"), name="audit_entry_chain_seq"),
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        ),
    ]
