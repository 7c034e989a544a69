"""Record the cases every press release covers (Document.cases), for releases whose cases
were not recorded: read back from the references frozen into their data. A document over
several cases is readable only by someone who may read each (remedies/documents/services.py
can_read), so the list must be complete. Releases whose references no longer resolve keep
what they have; their first case (`case`) still limits who reads them."""

from django.db import migrations


def fill_document_cases(apps, schema_editor) -> None:
    Document = apps.get_model("remedies", "Document")
    Case = apps.get_model("cases", "Case")
    # The base manager: a migration runs outside any tenant scope.
    documents = Document._base_manager.filter(kind="press_release", cases__isnull=True)
    for document in documents.iterator():
        references = [c.get("reference") for c in (document.data or {}).get("cases", [])]
        found = list(
            Case._base_manager.filter(
                reference__in=[r for r in references if r],
                municipality_id=document.municipality_id,
            )
        )
        if document.case_id is not None and all(c.pk != document.case_id for c in found):
            found.append(Case._base_manager.get(pk=document.case_id))
        if found:
            document.cases.add(*found)


class Migration(migrations.Migration):
    dependencies = [
        ("remedies", "0006_city_ledger_totals"),
    ]

    operations = [migrations.RunPython(fill_document_cases, migrations.RunPython.noop)]
