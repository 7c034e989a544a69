"""Attachments: kept by content type, outside every URL space, handed out only to the case's
readers."""

import hashlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django_scopes import scopes_disabled

from cases.attachments.services import attachment_add, clean_file_name
from cases.errors import CaseError
from cases.models import Attachment, AuditEntry, Case, Stage, TimelineEvent
from cases.mynumber import check_digit
from cases.scoping import tenant_scope
from tests.conftest import point_file_storages

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path) -> Path:
    point_file_storages(settings, tmp_path)
    return tmp_path / "attachments"


def _upload(client, user, case, content: bytes, name: str, description: str = ""):
    client.force_login(user)
    return client.post(
        reverse("cases:attachment_new", kwargs={"ref": case.reference}),
        {"file": SimpleUploadedFile(name, content), "description": description},
    )


def _attachments() -> list[Attachment]:
    with scopes_disabled():
        return list(Attachment.objects.order_by("id"))


def ja(message: str, **values) -> str:
    # The Japanese the user reads (English until the catalogue holds the new messages).
    with translation.override("ja"):
        return gettext(message) % values if values else gettext(message)


def _stored_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def test_staff_attach_a_png_scan_kept_under_a_random_name(client, world, case, attachment_dir):
    response = _upload(client, world.staff, case, PNG, "C氏受領書.png", "C氏の受領書（署名済み）")
    assert response.status_code == 302
    [attachment] = _attachments()
    assert attachment.content_type == "image/png"
    assert attachment.size == len(PNG)
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()
    assert attachment.original_name == "C氏受領書.png"
    [stored] = _stored_files(attachment_dir)
    assert stored.read_bytes() != PNG  # encrypted at rest (test_attachment_encryption.py)
    assert "受領書" not in stored.name and not stored.name.endswith(".png")
    with scopes_disabled():
        audit = AuditEntry.objects.get(action="tadasu.attachment.added")
        line = TimelineEvent.objects.get(action="attachment.added")
    assert audit.data == {
        "content_type": "image/png",
        "size": len(PNG),
        "sha256": attachment.sha256,
    }
    assert "受領書" not in str(audit.data)  # a file name may name a person
    assert line.in_story is False
    assert line.text == ja("Attachment “%(name)s” was added.", name="C氏受領書.png")


def test_the_desk_contractor_attaches_a_signed_pdf_receipt(client, world, case):
    assert _upload(client, world.contractor, case, PDF, "receipt.pdf").status_code == 302
    [attachment] = _attachments()
    assert attachment.content_type == "application/pdf"
    assert attachment.uploaded_by == world.contractor


def test_jpeg_is_recognised_by_its_bytes_whatever_the_name(client, world, case):
    assert _upload(client, world.staff, case, JPEG, "scan").status_code == 302
    assert _attachments()[0].content_type == "image/jpeg"


def test_an_exe_renamed_pdf_is_refused_and_nothing_is_kept(client, world, case, attachment_dir):
    response = _upload(client, world.staff, case, EXE, "receipt.pdf")
    assert response.status_code == 200
    message = ja("Only PDF, PNG and JPEG files can be attached; this file is something else.")
    assert message in response.content.decode()
    assert _attachments() == []
    assert _stored_files(attachment_dir) == []


def test_a_file_over_the_size_limit_is_refused(client, world, case, settings):
    settings.TADASU_ATTACHMENT_MAX_MB = 1
    too_big = PNG + b"\x00" * (1024 * 1024)
    response = _upload(client, world.staff, case, too_big, "big.png")
    assert response.status_code == 200
    assert ja("The file is larger than %(max)s MB.", max=1) in response.content.decode()
    assert _attachments() == []


def test_an_empty_file_is_refused(client, world, case):
    assert _upload(client, world.staff, case, b"", "empty.pdf").status_code == 200
    assert _attachments() == []


def _individual_number() -> str:
    first = "12345678901"
    return first + str(check_digit(first))


@pytest.mark.parametrize(
    "name",
    [
        f"{_individual_number()}.pdf",
        "番号"
        + _individual_number().translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        # A direction mark between the digits would hide them from a first look.
        _individual_number()[:6] + "\u202e" + _individual_number()[6:] + ".pdf",
    ],
)
def test_a_file_name_holding_an_individual_number_is_refused(client, world, case, name):
    response = _upload(client, world.staff, case, PDF, name)
    assert response.status_code == 200
    message = ja(
        "The file name looks like it holds an individual number (My Number). "
        "Rename the file and upload it again."
    )
    assert message in response.content.decode()
    assert _attachments() == []


def test_a_description_holding_an_individual_number_is_refused(client, world, case):
    response = _upload(client, world.staff, case, PDF, "a.pdf", f"番号 {_individual_number()}")
    assert response.status_code == 200
    assert _attachments() == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\desk\\受領書.pdf", "受領書.pdf"),
        ("../../etc/passwd", "passwd"),
        ("受領書\u202efdp.exe", "受領書fdp.exe"),
        ("a\x00b\r\n.pdf", "ab.pdf"),
        ('what?<>"|*:.pdf', "what_______.pdf"),
        ("ＡＢＣ　１.pdf", "ABC 1.pdf"),
        ("...", "attachment"),
        ("", "attachment"),
        ("x" * 300 + ".pdf", "x" * 96 + ".pdf"),
    ],
)
def test_file_names_are_cleaned_before_they_are_shown(raw, clean):
    assert clean_file_name(raw) == clean


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("staff", 302),
        ("manager", 302),
        ("contractor", 302),
        ("auditor", 403),
        ("other_contractor", 404),
        ("staff_other_city", 404),
    ],
)
def test_who_may_attach(client, world, case, role, status):
    assert _upload(client, getattr(world, role), case, PDF, "a.pdf").status_code == status
    assert len(_attachments()) == (1 if status == 302 else 0)


def test_nobody_attaches_to_a_closed_case(client, world, case):
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(stage=Stage.CLOSED)
    for role in ("staff", "manager", "contractor"):
        assert _upload(client, getattr(world, role), case, PDF, "a.pdf").status_code == 403
    assert _attachments() == []


def test_the_service_refuses_an_outsider_too(world, case):
    with tenant_scope(world.staff_other_city), pytest.raises(Exception) as refused:
        attachment_add(
            case=case,
            by=world.staff_other_city,
            upload=SimpleUploadedFile("a.pdf", PDF),
            description="",
        )
    assert refused.type.__name__ == "PermissionDenied"
    with tenant_scope(world.staff), pytest.raises(CaseError):
        attachment_add(case=case, by=world.staff, upload=SimpleUploadedFile("a.pdf", EXE))


@pytest.fixture
def attached(client, world, case) -> Attachment:
    assert _upload(client, world.staff, case, PDF, "受領書.pdf").status_code == 302
    client.logout()
    return _attachments()[0]


def _download_url(case, attachment) -> str:
    return reverse(
        "cases:attachment_download", kwargs={"ref": case.reference, "attachment_id": attachment.pk}
    )


@pytest.mark.parametrize("role", ["staff", "manager", "auditor", "contractor"])
def test_readers_of_the_case_download_it_as_a_file_not_a_page(client, world, case, attached, role):
    client.force_login(getattr(world, role))
    response = client.get(_download_url(case, attached))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="tadasu-attachment-{case.reference}-{attached.pk}.pdf"' in disposition
    assert "受領書" not in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"].split(", ")
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            action="tadasu.attachment.downloaded", user=getattr(world, role)
        ).exists()


@pytest.mark.parametrize("role", ["other_contractor", "staff_other_city"])
def test_an_outsider_gets_not_found(client, world, case, attached, role):
    client.force_login(getattr(world, role))
    assert client.get(_download_url(case, attached)).status_code == 404


def test_anonymous_is_sent_to_log_in(client, case, attached):
    response = client.get(_download_url(case, attached))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_an_attachment_is_not_found_through_another_case(client, world, case, attached):
    from tests.factories import CaseFactory

    other = CaseFactory(office=world.office, contractor=world.contractor_co, created_by=world.staff)
    client.force_login(world.staff)
    assert client.get(_download_url(other, attached)).status_code == 404


def test_the_stored_file_is_not_reachable_under_static_or_media(
    client, world, case, attached, attachment_dir
):
    client.force_login(world.staff)
    stored = attached.file.name
    for prefix in ("/static/", "/media/", "/static/attachments/", "/media/attachments/"):
        assert client.get(f"{prefix}{stored}").status_code == 404, prefix
    with pytest.raises(ValueError):
        attached.file.url  # noqa: B018 — no URL exists for it
    path = Path(attached.file.path).resolve()
    assert path.is_relative_to(Path(attachment_dir).resolve())
    for public in (settings.STATIC_ROOT, *settings.STATICFILES_DIRS):
        assert not path.is_relative_to(Path(public).resolve())


def test_the_default_directory_is_outside_static_and_media():
    from config import settings as project

    directory = Path(project.TADASU_ATTACHMENT_DIR).resolve()
    assert not directory.is_relative_to(Path(project.STATIC_ROOT).resolve())
    for public in project.STATICFILES_DIRS:
        assert not directory.is_relative_to(Path(public).resolve())
    assert not getattr(project, "MEDIA_ROOT", "")  # nothing is served as media at all


def test_the_case_page_lists_attachments_and_offers_the_form_to_those_who_may_add(
    client, world, case, attached
):
    client.force_login(world.staff)
    body = client.get(reverse("cases:detail", kwargs={"ref": case.reference})).content.decode()
    assert "受領書.pdf" in body
    assert _download_url(case, attached) in body
    assert 'enctype="multipart/form-data"' in body
    client.force_login(world.auditor)
    body = client.get(reverse("cases:detail", kwargs={"ref": case.reference})).content.decode()
    assert "受領書.pdf" in body
    assert 'enctype="multipart/form-data"' not in body
    # After the documents (section 9), not before the remedy sections.
    assert body.index('id="h-attachments"') > body.index('id="h-documents"')
