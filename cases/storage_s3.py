"""Files on an S3-compatible object store, encrypted as on the local disk.

Needs django-storages with boto3 (`pip install -e ".[s3]"`); set
TADASU_FILES_BACKEND=cases.storage_s3.EncryptedS3Storage and TADASU_FILES_OPTIONS (README,
"Running on several machines"). Imported only when so configured.
"""

from storages.backends.s3 import S3Storage

from .storage import EncryptedStorageMixin


class EncryptedS3Storage(EncryptedStorageMixin, S3Storage):
    """A bucket prefix per alias; objects are Fernet tokens, never public."""

    def __init__(self, **options) -> None:
        # Private objects, never a public or signed URL (url() refuses in the mixin).
        options.setdefault("default_acl", "private")
        options.setdefault("querystring_auth", True)
        options.setdefault("file_overwrite", False)
        super().__init__(**options)
