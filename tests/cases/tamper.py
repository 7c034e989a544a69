"""What the tamper tests share (tests/cases/test_audit_tamper.py, test_audit_checkpoints.py):
a checkpoint key and folder of a test's own, and the attacker who owns the database."""

import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import connection

MIGRATION = __import__("cases.migrations.0013_audit_keyed_chains", fromlist=["SQLITE"])


def new_checkpoint_key(pem: Path) -> Path:
    key = Ed25519PrivateKey.generate()
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


def checkpoint_settings(storages: dict, pem: Path, folder: Path) -> dict:
    """The settings that make `pem` the checkpoint key and `folder` its storage."""
    return {
        "AUDIT_CHECKPOINT_KEY": str(pem),
        "AUDIT_CHECKPOINT_PUBLIC_KEYS": [],
        "STORAGES": {
            **storages,
            "audit_checkpoints": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {
                    "location": str(folder),
                    "file_permissions_mode": 0o600,
                    "directory_permissions_mode": 0o700,
                },
            },
        },
    }


def use_checkpoints(settings, pem: Path, folder: Path) -> Path:
    for name, value in checkpoint_settings(settings.STORAGES, pem, folder).items():
        setattr(settings, name, value)
    return folder


def as_owner(*statements: str, params=()) -> None:
    """What an attacker who owns the database does: triggers off, then the statements.
    (Inside the test's transaction: the triggers come back afterwards.)"""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for sql in MIGRATION.SQLITE_REVERSE:
                cursor.execute(sql)
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE cases_auditentry DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE cases_audithead DISABLE TRIGGER USER")
        for sql in statements:
            cursor.execute(sql, params)


def detected(first_words: str) -> str:
    """verify_audit fails, and names the problem; returns what it said."""
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=io.StringIO(), stderr=err)
    assert first_words in str(failure.value), (str(failure.value), err.getvalue())
    return str(failure.value)
