import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models


def chain_existing(apps, schema_editor):
    """Entries written before the chain existed are chained now, in id order (the same
    encoding as cases.audit.entry_hash, repeated here as migrations must not import it)."""
    AuditEntry = apps.get_model("cases", "AuditEntry")
    AuditHead = apps.get_model("cases", "AuditHead")
    previous, last_id = "0" * 64, 0
    for entry in AuditEntry.objects.order_by("id"):
        content = {
            "prev": previous, "at": entry.at.isoformat(), "user": entry.user_id,
            "role": entry.role, "action": entry.action,
            "municipality": entry.municipality_id, "case": entry.case_id,
            "object_type": entry.object_type, "object_id": entry.object_id,
            "data": entry.data, "client_address": entry.client_address,
        }
        encoded = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        entry.prev_hash = previous
        entry.hash = hashlib.sha256(encoded.encode()).hexdigest()
        entry.save(update_fields=["prev_hash", "hash"])
        previous, last_id = entry.hash, entry.pk
    AuditHead.objects.update_or_create(pk=1, defaults={"last_id": last_id, "last_hash": previous})


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0005_attachments"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("last_id", models.BigIntegerField(default=0)),
                ("last_hash", models.CharField(default="0" * 64, max_length=64)),
            ],
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="at",
            field=models.DateTimeField(),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="municipality",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="cases.municipality"),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="client_address",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(fields=["municipality", "at"], name="cases_audit_municip_d666c0_idx"),
        ),
    ]
