import cases.models
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0004_encrypted_contact"),
    ]

    operations = [
        migrations.CreateModel(
            name="Attachment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file", models.FileField(editable=False, storage=cases.models._attachment_storage, upload_to=cases.models._attachment_stored_name)),
                ("original_name", models.CharField(max_length=120, verbose_name="file name")),
                ("content_type", models.CharField(max_length=40, verbose_name="type")),
                ("size", models.PositiveIntegerField(verbose_name="size in bytes")),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256")),
                ("description", models.CharField(blank=True, max_length=200, verbose_name="description")),
                ("uploaded_at", models.DateTimeField(auto_now_add=True, verbose_name="uploaded at")),
                ("case", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="attachments", to="cases.case", verbose_name="case")),
                ("uploaded_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="uploaded by")),
            ],
            options={
                "verbose_name": "attachment",
                "verbose_name_plural": "attachments",
                "ordering": ["uploaded_at", "id"],
            },
        ),
    ]
