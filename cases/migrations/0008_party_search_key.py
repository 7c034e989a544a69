from django.db import migrations, models

from cases.search import party_search_key


def fill_search_keys(apps, schema_editor):
    # Historical models have a plain manager: no tenant scope needed for this maintenance.
    Party = apps.get_model("cases", "Party")
    batch = []
    for party in Party.objects.only("id", "name", "name_kana").iterator(chunk_size=2000):
        party.search_key = party_search_key(party.name, party.name_kana)
        batch.append(party)
        if len(batch) >= 2000:
            Party.objects.bulk_update(batch, ["search_key"])
            batch = []
    if batch:
        Party.objects.bulk_update(batch, ["search_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0007_audit_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="party",
            name="search_key",
            field=models.CharField(blank=True, editable=False, max_length=210),
        ),
        migrations.RunPython(fill_search_keys, migrations.RunPython.noop, elidable=False),
    ]
