"""Re-encrypt every encrypted value, and every attachment file, with the first key of
TADASU_FIELD_KEYS.

Files (documents, attachments, uploaded sheets) are written anew under fresh names and the
old files deleted (cases/storage.py).

Rotation: put the new key first in TADASU_FIELD_KEYS (keep the old ones after it), run this
command, check it reports no failures, then remove the old keys.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django_scopes import scopes_disabled

from cases.crypto import EncryptedBinaryField, EncryptedTextField, _fernet
from cases.storage import encrypted_file_fields, rotate_stored


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the first (newest) field key."

    def handle(self, *args, **options) -> None:
        total = 0
        fernet = _fernet()
        with transaction.atomic():
            for model in apps.get_models():
                columns = [
                    f.column
                    for f in model._meta.concrete_fields
                    if isinstance(f, EncryptedTextField | EncryptedBinaryField)
                ]
                if not columns:
                    continue
                # Raw SQL: the ORM would decrypt on read; here the tokens themselves rotate.
                table = connection.ops.quote_name(model._meta.db_table)
                pk = connection.ops.quote_name(model._meta.pk.column)
                quoted = [connection.ops.quote_name(c) for c in columns]
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT {pk}, {', '.join(quoted)} FROM {table}")  # noqa: S608  # nosec B608  # identifiers from model _meta, quote_name()d; values are parameters
                    rows = cursor.fetchall()
                    for row in rows:
                        values = []
                        for token in row[1:]:
                            if token in (None, ""):
                                values.append(token)
                            elif isinstance(token, str):
                                values.append(fernet.rotate(token.encode()).decode())
                            else:
                                values.append(fernet.rotate(bytes(token)))
                        assignments = ", ".join(f"{c} = %s" for c in quoted)
                        cursor.execute(
                            f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608  # nosec B608  # identifiers from model _meta, quote_name()d; values are parameters
                            [*values, row[0]],
                        )
                        total += 1
                self.stdout.write(f"{model._meta.label}: {len(rows)} rows")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} rows with the newest key."))
        # The files after the rows: a failure here leaves the rows rotated, and a second run
        # rotates again what is already under the newest key (MultiFernet.rotate accepts it).
        for model, field in encrypted_file_fields():
            label = f"{model._meta.label}.{field}"
            with scopes_disabled():
                rotated, missing = rotate_stored(model._base_manager.all(), field)
            if missing:
                self.stderr.write(f"{label}: {missing} files are missing.")
            self.stdout.write(
                self.style.SUCCESS(f"{label}: re-encrypted {rotated} files with the newest key.")
            )
