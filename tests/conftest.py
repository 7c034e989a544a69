"""Personas (STYLE 8) in one small world of two cities and two desk contractors.

- city: 北九州市-like test city with two offices; its staff, manager and auditor.
- contractor_co runs desks for city; other_co serves city and other_city but ran none of
  the cases below unless a test says so.
"""

import os
from dataclasses import dataclass
from importlib import import_module

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django_scopes import scopes_disabled
from hypothesis import Phase
from hypothesis import settings as hypothesis_settings

from cases.models import Municipality, Office, Role, User

from .factories import CaseFactory, ContractorFactory, MunicipalityFactory, OfficeFactory, member

# In CI the Hypothesis tests run derandomized: the same examples on every run, so a
# landing never depends on luck. Locally they explore new examples each run (and
# TADASU_FUZZ_EXAMPLES / TADASU_FUZZ_EXAMPLES_IMPORT make them dig deeper).
# `make mutation` (tools/mutation.py) runs them derandomized too, and without the example
# database: a mutant is killed or survives by its own code, never by the examples an earlier
# mutant's run happened to save or to draw. Nor does it shrink a failing example: that the
# test fails is all a mutant's run needs to know, and shrinking took up to a minute a mutant.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile(
    "mutation",
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    report_multiple_bugs=False,
)
if os.environ.get("TADASU_MUTATION") == "1":
    hypothesis_settings.load_profile("mutation")
elif os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")


@dataclass
class World:
    city: Municipality
    other_city: Municipality
    office: Office
    office2: Office
    other_city_office: Office
    contractor_co: object
    other_co: object
    staff: User
    manager: User
    auditor: User
    contractor: User
    other_contractor: User
    staff_other_city: User


@pytest.fixture
def world(db) -> World:
    city = MunicipalityFactory(name="北九州市", code="401005")
    other_city = MunicipalityFactory(name="みなと市", code="990001")
    contractor_co = ContractorFactory(name="株式会社エイジェック", serves=[city])
    other_co = ContractorFactory(name="株式会社みらい窓口サービス", serves=[city, other_city])
    return World(
        city=city,
        other_city=other_city,
        office=OfficeFactory(municipality=city, name="八幡西区役所 支援窓口"),
        office2=OfficeFactory(municipality=city, name="小倉南区役所 支援窓口"),
        other_city_office=OfficeFactory(municipality=other_city, name="みなと市役所 市民窓口"),
        contractor_co=contractor_co,
        other_co=other_co,
        staff=member(Role.STAFF, municipality=city, username="staff"),
        manager=member(Role.MANAGER, municipality=city, username="manager"),
        auditor=member(Role.AUDITOR, municipality=city, username="auditor"),
        contractor=member(Role.CONTRACTOR, contractor=contractor_co, username="contractor"),
        other_contractor=member(Role.CONTRACTOR, contractor=other_co, username="other-contractor"),
        staff_other_city=member(Role.STAFF, municipality=other_city, username="staff-other"),
    )


@pytest.fixture
def case(world):
    """A case of world.city, at a desk run by world.contractor_co."""
    return CaseFactory(office=world.office, contractor=world.contractor_co, created_by=world.staff)


@pytest.fixture
def unscoped():
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness, paid for every persona of every test, is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Log-in through django-axes (security) ------------------------------------------------
class AxesClient(Client):
    """The test client, whose login() hands authenticate() a request as django-axes needs.

    AxesStandaloneBackend refuses an authenticate() call without a request (it could not
    tell the address); the log-in page passes one, Client.login() alone does not.
    """

    def login(self, **credentials) -> bool:
        credentials.setdefault("request", RequestFactory().post(reverse("login")))
        return super().login(**credentials)


@pytest.fixture
def client() -> AxesClient:
    return AxesClient()


# --- end of log-in through django-axes ----------------------------------------------------


@pytest.fixture(scope="session")
def files_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("files")


def point_file_storages(settings, folder) -> None:
    """Documents, attachments, uploaded sheets and job inputs kept under `folder` (encrypted,
    as ever)."""
    storages = dict(settings.STORAGES)
    for alias in ("documents", "attachments", "uploads", "job_inputs"):
        storages[alias] = {
            "BACKEND": "cases.storage.EncryptedFileSystemStorage",
            "OPTIONS": {"location": str(folder / alias)},
        }
    settings.STORAGES = storages


@pytest.fixture(autouse=True)
def _file_storages(settings, files_dir, tmp_path):
    # Tests never write letters, scans or checkpoints into the checkout's var/ folder, nor
    # read the checkpoints `make run` left there (signed by the development key). Each test
    # starts with no checkpoint: one test's checkpoint must not judge another's trail.
    point_file_storages(settings, files_dir)
    settings.STORAGES = {
        **settings.STORAGES,
        "audit_checkpoints": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "audit-checkpoints")},
        },
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a rolled-back test leaves audit ids to be
    reused, and a page cached under one of them must not reach the next test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# --- the append-only audit tables and a transactional test's flush ------------------------
# Tests that cannot run inside a rolled-back transaction (the live server's, the PostgreSQL
# race tests) are followed by a flush that empties every table: DELETE on SQLite, which the
# append-only triggers refuse, and TRUNCATE on PostgreSQL, which they refuse while the table
# holds entries. So, only here and in one transaction: triggers off, the audit tables
# emptied, triggers back. No test ever runs without them (tests/cases/test_audit_tamper.py
# checks them). The statements are migration 0013's own, so they cannot drift apart.
_triggers = import_module("cases.migrations.0013_audit_keyed_chains")


def empty_audit_tables() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for sql in _triggers.SQLITE_REVERSE:
                cursor.execute(sql)
            cursor.execute("DELETE FROM cases_auditentry")
            cursor.execute("DELETE FROM cases_audithead")
            for sql in _triggers.SQLITE:
                cursor.execute(sql)
        else:
            for table in ("cases_auditentry", "cases_audithead"):
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (a constant)
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


@pytest.fixture(autouse=True)
def _audit_tables_emptied_before_flush(request):
    marker = request.node.get_closest_marker("django_db")
    if not (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or (marker is not None and marker.kwargs.get("transaction"))
    ):
        yield
        return
    # Set up first, so torn down (flushed) after the tables were emptied here.
    request.getfixturevalue("transactional_db")
    yield
    empty_audit_tables()
