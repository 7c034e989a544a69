"""Two indexes of the audit trail that every audited write kept up and no query reads.

- The municipality's foreign key had an index of its own; both of the entry's indexes,
  (municipality, at) and (municipality, id), begin with that column and serve what it did.
  Dropped by name rather than by altering the field: SQLite alters a field by building the
  table anew, which would drop the triggers that keep the trail append-only (0007, 0013).
- On PostgreSQL, `cases_auditentry_hash_46feb865_like`: the pattern index Django adds for a
  unique text column, made for 0006's unique `hash`. 0013 renamed the column to `mac` and
  made it not unique, which dropped the constraint but left this index behind, kept up on
  every entry (random 64-character keys) and read by nothing (no query looks a MAC up).

Both are dropped if they are there (a database made by another route may not hold them).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0021_ended_since_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
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
            ],
            database_operations=[
                migrations.RunSQL(
                    sql="DROP INDEX IF EXISTS cases_auditentry_municipality_id_11dee340",
                    reverse_sql=(
                        "CREATE INDEX cases_auditentry_municipality_id_11dee340 "
                        "ON cases_auditentry (municipality_id)"
                    ),
                ),
            ],
        ),
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS cases_auditentry_hash_46feb865_like",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
