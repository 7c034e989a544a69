"""Where attachment bytes are kept (cases.models.Attachment.file).

A FileSystemStorage under settings.TADASU_ATTACHMENT_DIR, outside STATIC_ROOT and every URL
space. The location is read from settings on every use, not frozen at import, so a changed
setting (and a test's override) takes effect; `url()` refuses, because the only way out for
these files is the access-checked download view in cases/attachments.py.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class AttachmentStorage(FileSystemStorage):
    def __init__(self) -> None:
        # Owner-only: scans of receipts hold names, addresses and amounts.
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self) -> str:
        return str(settings.TADASU_ATTACHMENT_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    @property
    def base_url(self) -> None:
        # FileSystemStorage.url() raises ValueError when there is no base URL.
        return None
