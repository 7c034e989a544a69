import cases.crypto
from django.db import migrations


def encrypt_designated_accounts(apps, schema_editor):
    """Designated account numbers stored before encryption are encrypted in place."""
    from cases.crypto import encrypt, is_encrypted

    connection = schema_editor.connection
    table = connection.ops.quote_name("cases_municipality")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, payment_account_number FROM {table}")
        for pk, number in cursor.fetchall():
            if number and not is_encrypted(number.encode()):
                cursor.execute(
                    f"UPDATE {table} SET payment_account_number = %s WHERE id = %s",
                    [encrypt(number), pk],
                )


def reference_agencies(apps, schema_editor):
    from cases.agencies import ensure_reference_agencies

    ensure_reference_agencies(apps.get_model("cases", "Agency"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0015_issuer_kind_letter_settings_publication"),
    ]

    operations = [
        migrations.AlterField(
            model_name="municipality",
            name="payment_account_number",
            field=cases.crypto.EncryptedTextField(
                blank=True, verbose_name="designated account: number"
            ),
        ),
        migrations.RunPython(
            encrypt_designated_accounts, migrations.RunPython.noop, elidable=False
        ),
        migrations.AddField(
            model_name="municipality",
            name="seal_image",
            field=cases.crypto.EncryptedBinaryField(
                blank=True, null=True, verbose_name="official seal image"
            ),
        ),
        migrations.RunPython(reference_agencies, migrations.RunPython.noop, elidable=False),
    ]
