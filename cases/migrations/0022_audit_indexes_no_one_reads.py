"""Two indexes of the audit trail that every audited write kept up and no query reads.

- The municipality's foreign key had an index of its own; both of the entry's indexes,
  (municipality, at) and (municipality, id), begin with that column and serve what it did.
- On PostgreSQL, `cases_auditentry_hash_46feb865_like`: the pattern index Django adds for a
  unique text column, made for 0006's unique `hash`. 0013 renamed the column to `mac` and
  made it not unique, which dropped the constraint but left this index behind, kept up on
  every entry (random 64-character keys) and read by nothing (no query looks a MAC up).
  Dropped if it is there: a database made before 0013 by another route may not hold it.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0021_ended_since_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="municipality",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.municipality",
            ),
        ),
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS cases_auditentry_hash_46feb865_like",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
