"""Attachments are encrypted at rest (cases/storage.py): encrypt the files stored before.

Needs TADASU_FIELD_KEYS when there are attachments (as the encrypted fields already do).
Irreversible on purpose: nothing decrypts files back to clear.
"""

from django.db import migrations


def encrypt_existing(apps, schema_editor) -> None:
    from cases.storage import encrypt_stored

    Attachment = apps.get_model("cases", "Attachment")
    encrypt_stored(Attachment._base_manager.all())


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0013_audit_keyed_chains"),
    ]

    operations = [migrations.RunPython(encrypt_existing, migrations.RunPython.noop)]
