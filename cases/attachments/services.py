"""Attachments: the rules for keeping a scan with a case, and reading it back (services)."""

import hashlib
import re
import unicodedata

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from .. import permissions
from ..audit import audit_log
from ..errors import CaseError
from ..models import Attachment, Case, Membership, User
from ..mynumber import MESSAGE as INDIVIDUAL_NUMBER_MESSAGE
from ..mynumber import contains_individual_number
from ..scoping import membership_of
from ..services import actor_of, add_timeline, lock_case, require_member, today

# Content type → (the bytes a file of that type starts with, extension it is served with).
# A small explicit table instead of libmagic: three formats, each with a fixed signature.
SIGNATURES: dict[str, tuple[bytes, str]] = {
    "application/pdf": (b"%PDF-", "pdf"),
    "image/png": (b"\x89PNG\r\n\x1a\n", "png"),
    "image/jpeg": (b"\xff\xd8\xff", "jpg"),
}
NAME_MAX_LENGTH = 100


def max_bytes() -> int:
    return settings.TADASU_ATTACHMENT_MAX_MB * 1024 * 1024


def can_add_attachment(membership: Membership | None, case: Case) -> bool:
    # The same people who record visits: city staff on open cases of their city, and the
    # desk's own contractor (the receipts are signed at its visits).
    return permissions.can_record_visit(membership, case)


def sniff(head: bytes) -> str | None:
    """The content type the first bytes announce, or None if it is not one we keep."""
    for content_type, (magic, _extension) in SIGNATURES.items():
        if head.startswith(magic):
            return content_type
    return None


def clean_file_name(raw: str | None) -> str:
    """A file name fit to show: no folders, no control or direction characters (U+202E
    would make "cod.exe" read as "exe.doc"), no characters Windows refuses, bounded length."""
    name = unicodedata.normalize("NFKC", raw or "")
    name = re.split(r"[/\\]", name)[-1]  # some browsers send C:\Users\…\scan.pdf
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: NAME_MAX_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:NAME_MAX_LENGTH]
    return name or "attachment"


def _read_checked(upload: UploadedFile) -> tuple[str, str]:
    """Check size and type by content; return (content type, SHA-256)."""
    if not upload.size:
        raise CaseError(_("The file is empty."), field="file")
    if upload.size > max_bytes():
        raise CaseError(
            _("The file is larger than %(max)s MB.") % {"max": settings.TADASU_ATTACHMENT_MAX_MB},
            field="file",
        )
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        digest.update(chunk)
    upload.seek(0)
    content_type = sniff(head)
    if content_type is None:
        raise CaseError(
            _("Only PDF, PNG and JPEG files can be attached; this file is something else."),
            field="file",
        )
    return content_type, digest.hexdigest()


@transaction.atomic
def attachment_add(
    *, case: Case, by: User, upload: UploadedFile, description: str = ""
) -> Attachment:
    """Keep a scan with the case; audited, and a line on the 経過 (not part of the story)."""
    if not can_add_attachment(require_member(by), case):
        raise PermissionDenied(_("You may read this case but not change it."))
    raw_name = upload.name or ""
    name = clean_file_name(raw_name)
    # Checked before and after cleaning: a direction mark between the digits hides them
    # from the first look, and cleaning takes it out.
    if contains_individual_number(raw_name) or contains_individual_number(name):
        raise CaseError(
            _(
                "The file name looks like it holds an individual number (My Number). "
                "Rename the file and upload it again."
            ),
            field="file",
        )
    description = (description or "").strip()
    if contains_individual_number(description):
        raise CaseError(str(INDIVIDUAL_NUMBER_MESSAGE), field="description")
    content_type, sha256 = _read_checked(upload)
    # Locked, then checked again on the fresh row: a case closed since the page was loaded
    # takes no more attachments.
    case = lock_case(case)
    if not can_add_attachment(membership_of(by), case):
        raise PermissionDenied(_("You may read this case but not change it."))
    attachment = Attachment(
        case=case,
        original_name=name,
        content_type=content_type,
        size=upload.size,
        sha256=sha256,
        description=description,
        uploaded_by=by,
    )
    attachment.file.save(name, upload, save=False)
    try:
        attachment.save()
        with translation.override("ja"):
            text = _("Attachment “%(name)s” was added.") % {"name": name}
        add_timeline(
            case,
            on=today(),
            actor=actor_of(by),
            text=text,
            action="attachment.added",
            by=by,
            in_story=False,
        )
        # No file name in the audit trail: it may name a person.
        audit_log(
            "tadasu.attachment.added",
            by=by,
            case=case,
            obj=attachment,
            data={"content_type": content_type, "size": upload.size, "sha256": sha256},
        )
    except BaseException:
        # The row is rolled back with the transaction; the bytes must go too.
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def attachment_open(*, attachment: Attachment, by: User):
    """The stored bytes, for someone who may see the case; who read what is audited."""
    require_member(by)
    audit_log(
        "tadasu.attachment.downloaded",
        by=by,
        case=attachment.case,
        obj=attachment,
        data={"sha256": attachment.sha256},
    )
    return attachment.file.open("rb")
