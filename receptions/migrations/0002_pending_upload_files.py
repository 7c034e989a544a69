"""An uploaded sheet waiting for its preview to be confirmed moves from a database column
(unencrypted) to the "uploads" storage (cases/storage.py), encrypted. Sheets waiting at
upgrade time are moved, not dropped; the reverse reads them back.
"""

from django.core.files.base import ContentFile
from django.db import migrations, models

import cases.storage
import receptions.models


def contents_to_files(apps, schema_editor) -> None:
    PendingUpload = apps.get_model("receptions", "PendingUpload")
    store = cases.storage.uploads()
    for pending in PendingUpload._base_manager.only("pk", "content").iterator(chunk_size=50):
        name = store.save(cases.storage.random_name(".csv"), ContentFile(bytes(pending.content)))
        PendingUpload._base_manager.filter(pk=pending.pk).update(file=name)


def files_to_contents(apps, schema_editor) -> None:
    PendingUpload = apps.get_model("receptions", "PendingUpload")
    store = cases.storage.uploads()
    for pending in PendingUpload._base_manager.exclude(file="").iterator(chunk_size=50):
        with store.open(pending.file.name, "rb") as handle:
            PendingUpload._base_manager.filter(pk=pending.pk).update(content=handle.read())


class Migration(migrations.Migration):
    dependencies = [
        ("receptions", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="pendingupload",
            name="file",
            field=models.FileField(
                default="",
                editable=False,
                storage=cases.storage.uploads,
                upload_to=receptions.models._upload_stored_name,
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="pendingupload", name="content", field=models.BinaryField(null=True)
        ),
        migrations.RunPython(contents_to_files, files_to_contents),
        migrations.RemoveField(model_name="pendingupload", name="content"),
    ]
