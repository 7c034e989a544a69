"""End-to-end tests: Playwright drives Debian's Chromium against pytest-django's live server.

- The browser is the system's (`apt-get install chromium`): Playwright's own browser
  download does not work on our machines. TADASU_CHROMIUM points elsewhere.
- Without Chromium the tests are skipped with the reason printed, except under CI=true,
  where a missing browser is an error: CI must never pass by skipping them.
- axe-core comes from npm (tests/e2e/package.json, `npm ci` in this folder).
"""

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cases.models import Agency, Case, Role, User

from ..factories import ContractorFactory, MunicipalityFactory, OfficeFactory, member

CHROMIUM = os.environ.get("TADASU_CHROMIUM", "/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "e2e-password-1"


def chromium_missing_reason() -> str | None:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return None
    if shutil.which(CHROMIUM):
        return None
    return (
        f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-ipaexfont, "
        "or set TADASU_CHROMIUM)"
    )


def axe_missing_reason() -> str | None:
    if AXE_JS.is_file():
        return None
    return f"axe-core not installed ({AXE_JS}): run `npm ci` in tests/e2e"


@contextmanager
def _async_unsafe_allowed():
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


# Once started, Playwright's sync API marks an event loop as running in this thread between
# its calls; Django then refuses the ORM calls the tests make between page actions, and the
# flush after each test, unless DJANGO_ALLOW_ASYNC_UNSAFE says they are safe (they are: one
# thread, plain synchronous calls). It is set around the e2e tests only (setup, call and
# teardown), and around the session's last teardown, where the browser and the live server
# stop; never for other tests (`manage.py check --deploy`, run by one of them, rejects it).
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if "e2e" not in item.keywords:
        return (yield)
    with _async_unsafe_allowed():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    if nextitem is not None:
        return (yield)
    with _async_unsafe_allowed():
        return (yield)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    # The browser tests run last: once Playwright has started, this thread has an event
    # loop marked running until the session ends, and Django refuses the ORM to any test
    # that would come after without DJANGO_ALLOW_ASYNC_UNSAFE (see above).
    items.sort(key=lambda item: "e2e" in item.keywords)  # stable: the order is kept
    in_ci = os.environ.get("CI") == "true"
    for item in items:
        if "e2e" not in item.keywords:
            continue
        reasons = [chromium_missing_reason()]
        if "axe" in item.keywords:
            reasons.append(axe_missing_reason())
        for reason in filter(None, reasons):
            if in_ci:
                # A skip would turn CI green without the browser tests: make it a failure.
                item.add_marker(pytest.mark.e2e_missing(reason))
            else:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def _fail_in_ci_when_chromium_missing():
    # Session-scoped, so that it runs before pytest-playwright tries to launch the browser.
    reason = chromium_missing_reason()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)


@pytest.fixture(autouse=True)
def _fail_in_ci_when_axe_missing(request):
    marker = request.node.get_closest_marker("e2e_missing")
    if marker is not None:
        pytest.fail(f"CI=true and {marker.args[0]}", pytrace=False)


# --- pytest-playwright, pointed at Debian's Chromium and the live server -------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # en-US: an English browser, whose own date input would ask month/day/year; the app's
    # date boxes take the date year first or in 和暦 whatever the browser's locale.
    # The app itself ignores Accept-Language and answers in Japanese.
    return {
        **browser_context_args,
        "locale": "en-US",
        "timezone_id": "Asia/Tokyo",
        "viewport": {"width": 1280, "height": 900},
        "accept_downloads": True,
    }


@pytest.fixture
def page(page):
    page.set_default_timeout(10_000)
    return page


# --- personas, as in tests/conftest.py, with passwords for the log-in form ----------------
@dataclass
class People:
    city: object
    office: object
    contractor_co: object
    other_co: object
    staff: User
    manager: User
    contractor: User
    other_contractor: User
    auditor: User


@pytest.fixture
def people(transactional_db) -> People:
    city = MunicipalityFactory(name="北九州市", code="401005", department="デジタル推進課")
    contractor_co = ContractorFactory(name="株式会社エイジェック", serves=[city])
    other_co = ContractorFactory(name="株式会社みらい窓口サービス", serves=[city])
    office = OfficeFactory(municipality=city, name="八幡西区役所 マイナポイント支援窓口")
    Agency.objects.get_or_create(name="マイナポイント緊急窓口", kind=Agency.Kind.HELPDESK)
    Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)

    def person(role, username, last, first, **org):
        return member(
            role, username=username, last_name=last, first_name=first, password=PASSWORD, **org
        )

    return People(
        city=city,
        office=office,
        contractor_co=contractor_co,
        other_co=other_co,
        staff=person(Role.STAFF, "staff", "市川", "職員", municipality=city),
        manager=person(Role.MANAGER, "manager", "課長", "一郎", municipality=city),
        contractor=person(Role.CONTRACTOR, "contractor", "委託", "太郎", contractor=contractor_co),
        other_contractor=person(
            Role.CONTRACTOR, "other-contractor", "他社", "花子", contractor=other_co
        ),
        auditor=person(Role.AUDITOR, "auditor", "監査", "委員", municipality=city),
    )


# --- the demo (remedies/demo.py), for the page-by-page checks and the screenshots ---------
@pytest.fixture
def demo(transactional_db):
    """The demo's cases, their users (password DEMO_PASSWORD), two issued letters and a
    receipt on the closed case, and one ledger entry and a letter to A on the open case."""
    from datetime import date

    from django_scopes import scopes_disabled

    from jobs.models import Job, JobKind, JobState
    from receptions.demo import load_demo_receptions
    from remedies import ledger
    from remedies.demo import load_demo
    from remedies.documents.services import document_issue
    from remedies.models import AgencyContact, DocumentKind, EntryKind, LedgerEntry

    from .pages import Facts

    users = load_demo()
    sheet = load_demo_receptions()
    with scopes_disabled():
        closed = Case.objects.get(reference="401005-2022-003")
        for party in closed.parties.order_by("label"):
            document_issue(kind=DocumentKind.APOLOGY, by=users["staff"], case=closed, party=party)
        payment = LedgerEntry.objects.get(case=closed, kind=EntryKind.PAYMENT)
        document_issue(
            kind=DocumentKind.RECEIPT,
            by=users["staff"],
            case=closed,
            party=payment.party,
            entry=payment,
        )
        job = Job.objects.create(
            kind=JobKind.RECEPTION_IMPORT,
            municipality=sheet.municipality,
            requested_by=users["staff"],
            state=JobState.DONE,
            done=sheet.row_count,
            total=sheet.row_count,
            summary=f"{sheet.row_count}件の受付を取り込みました。",
            link=f"/receptions/sheets/{sheet.pk}/",
        )
        open_case = Case.objects.get(reference="401005-2022-001")
        a, b = open_case.parties.order_by("label")
        (entry, *_) = ledger.ledger_post_misallocation(
            case=open_case, owed=a, holder=b, amount=1000, on=date(2023, 2, 22), by=users["staff"]
        )
        letter = document_issue(
            kind=DocumentKind.APOLOGY, by=users["staff"], case=open_case, party=a
        ).apology_record
        return Facts(
            open_ref=open_case.reference,
            closed_ref=closed.reference,
            party_id=a.pk,
            contact_id=AgencyContact.objects.get(case=open_case, answered_on__isnull=True).pk,
            entry_id=entry.pk,
            sheet_id=sheet.pk,
            reception_id=sheet.receptions.order_by("pk").first().pk,
            link_id=open_case.misregistrations.order_by("pk").first().pk,
            job_id=job.pk,
            letter_id=letter.pk,
        )
