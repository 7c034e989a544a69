"""Issued PDFs move from a database column to the "documents" storage (cases/storage.py):
encrypted files under random names, on the local disk or an object store, so that several
machines share them and the database stays small. Reversible: the reverse reads each file
back into the column.
"""

from django.core.files.base import ContentFile
from django.db import migrations, models
from django.db.models import Q

import cases.storage
import remedies.models


def pdfs_to_files(apps, schema_editor) -> None:
    Document = apps.get_model("remedies", "Document")
    store = cases.storage.documents()
    rows = Document._base_manager.filter(pdf__isnull=False).only("pk", "pdf")
    for document in rows.iterator(chunk_size=200):
        name = store.save(cases.storage.random_name(".pdf"), ContentFile(bytes(document.pdf)))
        Document._base_manager.filter(pk=document.pk).update(file=name)


def files_to_pdfs(apps, schema_editor) -> None:
    Document = apps.get_model("remedies", "Document")
    store = cases.storage.documents()
    rows = Document._base_manager.exclude(file="").only("pk", "file")
    for document in rows.iterator(chunk_size=200):
        with store.open(document.file.name, "rb") as handle:
            Document._base_manager.filter(pk=document.pk).update(pdf=handle.read())


class Migration(migrations.Migration):
    dependencies = [
        ("remedies", "0008_document_kinds_and_unnumbered"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="file",
            field=models.FileField(
                blank=True,
                editable=False,
                storage=cases.storage.documents,
                upload_to=remedies.models._document_stored_name,
            ),
        ),
        migrations.RemoveConstraint(model_name="document", name="document_issued_has_pdf"),
        migrations.RunPython(pdfs_to_files, files_to_pdfs),
        migrations.RemoveField(model_name="document", name="pdf"),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.CheckConstraint(
                condition=~Q(status="issued") | (~Q(file="") & ~Q(sha256="")),
                name="document_issued_has_pdf",
            ),
        ),
    ]
