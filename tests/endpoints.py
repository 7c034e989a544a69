"""Every route of the project, a world to call them in, and a valid form for each.

Shared by the access matrix (test_access_matrix.py) and the form fuzzer
(test_fuzz_all_forms.py). The routes come from the URL resolver itself, so a view added to
any urls.py shows up here without anyone listing it; what cannot be derived (which object
fills a URL parameter, what a valid form holds) is looked up in the tables below, and a
route they do not know fails loudly instead of being skipped.
"""

import hashlib
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.cookies import SimpleCookie

from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_scopes import scopes_disabled

from api.tokens import token_create
from cases import services
from cases.attachments.services import attachment_add
from cases.deadlines import TIMED_STAGES
from cases.models import (
    Agency,
    CaseKind,
    CauseCategory,
    ClosedDay,
    CorrectionWay,
    DataKind,
    Misregistration,
    TimelineEvent,
    User,
)
from cases.scoping import tenant_scope
from jobs.models import Job, JobKind, JobState
from jobs.worker import heartbeat
from receptions import services as reception_sheets
from remedies import ledger
from remedies import services as remedies
from remedies.documents import services as documents
from remedies.models import ApologyLetter, Channel, DocumentKind
from remedies.views import LEDGER_FORMS
from remedies.workflow import STEPS

from .receptions.sheets import reception_csv

# admin/ is Django's own and covered by tests/*/test_admin.py; static/ and media/ are not
# the project's views; api/ speaks JSON with tokens, not pages with sessions, and has a
# matrix of its own (tests/api/test_access_matrix.py).
EXCLUDED_PREFIXES = ("admin/", "static/", "media/", "api/")
ROLES = (
    "staff",
    "manager",
    "contractor",
    "other_contractor",
    "auditor",
    "staff_other_city",
    "anonymous",
)
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass(frozen=True)
class Route:
    name: str  # "cases:party_edit"
    path: str  # "cases/<str:ref>/parties/<int:party_id>/edit/"
    params: tuple[str, ...]
    view: Callable = field(compare=False, repr=False)

    def reads_query(self) -> bool:
        """Whether the view reads request.GET: a filter or a preview takes its input there."""
        view = inspect.unwrap(getattr(self.view, "view_class", self.view))
        try:
            return "request.GET" in inspect.getsource(view)
        except (OSError, TypeError):
            return False


def project_routes() -> list[Route]:
    """Every URL pattern of the project, walked recursively through includes."""

    def own_params(pattern) -> tuple[str, ...]:
        return tuple(pattern.pattern.regex.groupindex)

    def walk(patterns, prefix: str, namespace: str | None, params: tuple) -> Iterator[Route]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                ns = f"{namespace}:{inner}" if namespace and inner else inner or namespace
                yield from walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    ns,
                    params + own_params(pattern),
                )
            elif isinstance(pattern, URLPattern):
                path = prefix + str(pattern.pattern)
                if path.startswith(EXCLUDED_PREFIXES):
                    continue
                if pattern.name is None:
                    raise AssertionError(f"the route {path!r} has no name: give it one")
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                yield Route(name, path, params + own_params(pattern), pattern.callback)

    return list(walk(get_resolver().url_patterns, "", None, ()))


# Values tried for parameters that are not objects: every value the code knows, plus one it
# does not. Taken from the code, so that a new ledger kind or stage step is a new row.
def variants(route: Route) -> list[str | None]:
    if "kind" in route.params:
        known = {
            "remedies:ledger_new": list(LEDGER_FORMS),
            "documents:municipal": [DocumentKind.PRESS_RELEASE, DocumentKind.CHECKLIST],
        }
        if route.name not in known:
            raise AssertionError(f"{route.name}: say which kinds to try (tests/endpoints.py)")
        return [*known[route.name], "bogus"]
    if "step" in route.params:
        return [*STEPS, "bogus"]
    return [None]


def object_sets(route: Route) -> list[str]:
    """own: objects of the city's case at contractor_co's desk; foreign: of a case of another
    municipality (at other_co's desk); mixed: the own case's reference with the foreign
    case's object ids (an object reached through a case it does not belong to)."""
    ids = [p for p in route.params if p.endswith("_id")]
    if "ref" not in route.params and not ids:
        return ["-"]
    return ["own", "foreign", "mixed"] if "ref" in route.params and ids else ["own", "foreign"]


@dataclass
class Estate:
    """One case file with one of everything a URL can point at."""

    tag: str  # a word that appears only in this estate's personal data: leaks show it
    case: object
    c: object
    d: object
    contact: object
    entry: object
    document: object
    pending_document: object
    attachment: object
    extra: dict = field(default_factory=dict)


def _build(world, *, tag: str, by, office, contractor, agency) -> Estate:
    with tenant_scope(by):
        case = services.case_open(
            by=by,
            office=office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=contractor,
            discovered_on=date(2023, 2, 7),
            summary=f"{tag}の窓口でポイントが別人に付与された。",
            cause_category=CauseCategory.LOGOUT_OMITTED,
            cause_text="ログアウト漏れ",
            prevention="一人の対応を終える度に必ずログアウトする。",
        )
        c = services.party_add(case=case, by=by, label="C氏", name=f"{tag} 花子", phone="0931234")
        d = services.party_add(case=case, by=by, label="D氏", name=f"{tag} 次郎")
        services.misregistration_add(
            case=case,
            by=by,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=True,
        )
        contact = remedies.contact_add(
            case=case,
            by=by,
            agencies=[agency],
            contacted_on=date(2023, 2, 8),
            channel=Channel.PHONE,
            request=f"{tag}の件を照会。",
        )
        entry = ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=date(2023, 2, 8), by=by
        )[0]
        document = documents.document_issue(
            kind=DocumentKind.APOLOGY, by=by, case=case, party=c, dated=date(2023, 2, 9)
        )
        municipality = case.municipality
        municipality.documents_need_approval = True
        municipality.save(update_fields=["documents_need_approval"])
        pending = documents.document_issue(
            kind=DocumentKind.REPORT, by=by, case=case, dated=date(2023, 2, 9)
        )
        municipality.documents_need_approval = False
        municipality.save(update_fields=["documents_need_approval"])
        attachment = attachment_add(
            case=case,
            by=by,
            upload=SimpleUploadedFile(f"{tag}.pdf", PDF),
            description=f"{tag}の受領書",
        )
        # A reception sheet of that desk: the affected person (C) and, just before at the
        # same terminal, the counterpart candidate, who left mid-way.
        sheet = reception_sheets.sheet_import(
            data=reception_csv(
                [
                    (office.name, "1", "2023-02-07 10:00", "10:10", f"{tag} 三郎", "途中退席"),
                    (office.name, "1", "2023-02-07 10:30", "10:50", f"{tag} 花子", "完了"),
                ]
            ),
            file_name=f"{tag}.csv",
            mapping=RECEPTION_MAPPING,
            contractor=contractor,
            by=by,
        )
        candidate, affected = sheet.receptions.order_by("started_at")
        closed_day = ClosedDay.objects.create(
            municipality=case.municipality, day=date(2023, 2, 10), name=f"{tag}臨時閉庁"
        )
        api_token = token_create(user=by, name=f"{tag}連携", by=by)[0]
        job = Job.objects.create(
            kind=JobKind.RECEPTION_IMPORT,
            municipality=case.municipality,
            requested_by=by,
            state=JobState.DONE,
            summary=f"{tag}: 2件の受付を取り込みました。",
        )
    return Estate(
        tag,
        case,
        c,
        d,
        contact,
        entry,
        document,
        pending,
        attachment,
        extra={
            "closed_day": closed_day,
            "job": job,
            "api_token": api_token,
            "sheet": sheet,
            "candidate": candidate,
            "affected": affected,
        },
    )


def build_estates(world, *, foreign: bool = True) -> dict[str, Estate]:
    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    heartbeat("endpoints-worker")  # a job worker is heard of: /healthz answers 200
    own = _build(
        world,
        tag="ミギワ",
        by=world.staff,
        office=world.office,
        contractor=world.contractor_co,
        agency=agency,
    )
    if not foreign:
        return {"own": own}
    return {
        "own": own,
        "foreign": _build(
            world,
            tag="ハザマ",
            by=world.staff_other_city,
            office=world.other_city_office,
            contractor=world.other_co,
            agency=agency,
        ),
    }


RECEPTION_MAPPING = {
    "office": 0,
    "terminal": 1,
    "start": 2,
    "end": 3,
    "name": 4,
    "outcome": 5,
    "leader": 6,
    "checklist": 7,
    "date": None,
    "procedure": None,
}


def _letter_of(document):
    with scopes_disabled():
        return ApologyLetter.objects.filter(document=document).first()


# Which estate's object fills each URL parameter (approve needs a document awaiting it).
def _object_id(route: Route, param: str, estate: Estate) -> int:
    if param == "document_id":
        document = estate.pending_document if route.name == "documents:approve" else None
        return (document or estate.document).pk
    objects = {
        "party_id": estate.c,
        "contact_id": estate.contact,
        # The apology record of the お詫び状 the estate issued to C.
        "letter_id": _letter_of(estate.document),
        "entry_id": estate.entry,
        "attachment_id": estate.attachment,
        "sheet_id": estate.extra.get("sheet"),
        # The reception named in a URL: the candidate ranked for the affected person.
        "reception_id": estate.extra.get("candidate"),
        "day_id": estate.extra.get("closed_day"),
        "job_id": estate.extra.get("job"),
        "token_id": estate.extra.get("api_token"),
        # A 経過 line of the case: its first, which is for publication.
        "event_id": _first_event(estate),
        "link_id": _first_link(estate),
    }
    if objects.get(param) is None:
        raise AssertionError(
            f"{route.name}: no object for the URL parameter {param!r}; "
            "add one to tests/endpoints.py"
        )
    return objects[param].pk


def _first_link(estate: Estate):
    with scopes_disabled():
        return Misregistration.objects.filter(case=estate.case).order_by("id").first()


def _first_event(estate: Estate):
    with scopes_disabled():
        return TimelineEvent.objects.filter(case=estate.case, public=True).order_by("id").first()


def url_for(route: Route, variant: str | None, objects: str, estates: dict[str, Estate]) -> str:
    kwargs = {}
    for param in route.params:
        if param in ("kind", "step"):
            kwargs[param] = variant
        elif param == "ref":
            kwargs[param] = estates["own" if objects == "mixed" else objects].case.reference
        else:
            estate = estates["foreign" if objects == "mixed" else objects]
            kwargs[param] = _object_id(route, param, estate)
    return reverse(route.name, kwargs=kwargs)


# ---- valid forms ------------------------------------------------------------------------


def _head(case) -> int:
    with scopes_disabled():
        return ledger.ledger_head(case)


def _case_fields(world, estate: Estate, variant: str | None = None) -> dict:
    return {
        "kind": CaseKind.CASHLESS_LINK,
        "office": estate.case.office_id,
        "contractor": estate.case.contractor_id or "",
        "discovered_on": "2023-02-07",
        "summary": "窓口での誤登録（追記）",
        "cause_category": CauseCategory.LOGOUT_OMITTED,
        "cause_text": "ログアウト漏れ（確認済み）",
        "prevention": "完了チェック表を使う。",
    }


def _ledger(kind: str, estate: Estate) -> dict:
    base = {"expected_head": _head(estate.case), "on": "2023-02-10"}
    c, d = estate.c.pk, estate.d.pk
    return base | {
        "misallocation": {"owed": c, "holder": d, "amount": "1,000"},
        "payment": {"party": c, "amount": "1000", "side": "contractor", "method": "cash"},
        "collection": {"party": d, "amount": "1000", "side": "contractor", "method": "cash"},
        "regrant": {"party": c, "amount": "1000"},
        "national_correction": {"holder": d, "owed": c, "amount": "1000"},
        "write_off": {"party": c, "reason": "回収不能と判断"},
    }.get(kind, {})


# route name → (world, estate of the case in the URL, variant) → a valid form for a role
# allowed to post it. Routes without an entry take no form (GET pages, bare buttons).
PAYLOADS: dict[str, Callable[..., dict]] = {
    "login": lambda w, e, v: {"username": "nobody", "password": "wrong-password"},
    "set_language": lambda w, e, v: {"language": "en", "next": "/cases/"},
    "api_tokens": lambda w, e, v: {"name": "受付管理システム連携"},
    "cases:new": lambda w, e, v: _case_fields(w, e) | {"office": w.office.pk},
    "cases:edit": _case_fields,
    "cases:party_new": lambda w, e, v: {"label": "Z氏", "identified": "on", "name": "新規 三郎"},
    "cases:party_edit": lambda w, e, v: {
        "label": e.c.label,
        "identified": "on",
        "name": e.c.name,
        "phone": "0939999",
    },
    "cases:link_new": lambda w, e, v: {
        "source": e.c.pk,
        "target": e.d.pk,
        "data_kind": DataKind.OTHER,
    },
    "cases:link_correct": lambda w, e, v: {
        "corrected_on": "2023-02-08",
        "corrected_how": CorrectionWay.PERSON,
    },
    "cases:link_excuse": lambda w, e, v: {"reason": "ポイントは付与済みで訂正できない。"},
    "cases:timeline_new": lambda w, e, v: {
        "occurred_on": "2023-02-08",
        "actor": "北九州市",
        "text": "電話で状況を確認した。",
    },
    "cases:timeline_publish": lambda w, e, v: {"public": "0"},
    "cases:attachment_new": lambda w, e, v: {
        "file": SimpleUploadedFile("scan.pdf", PDF),
        "description": "受領書",
    },
    "remedies:contact_new": lambda w, e, v: {
        "agencies": [Agency.objects.get(name="デジタル庁").pk],
        "made_by": "municipality",
        "contacted_on": "2023-02-08",
        "channel": Channel.EMAIL,
        "request": "口座の状況を照会。",
    },
    "remedies:contact_answer": lambda w, e, v: {
        "answered_on": "2023-02-09",
        "answer": "双方とも正しい口座に修正済み。",
    },
    "remedies:agreement_new": lambda w, e, v: {
        "payer": "contractor",
        "amount": "5000",
        "form": "cash",
        "agreed_on": "2023-02-10",
    },
    "remedies:plan_new": lambda w, e, v: {
        "expected_head": _head(e.case),
        "party": e.d.pk,
        "agreed_on": "2023-02-10",
        "due_1": "2023-03-10",
        "amount_1": "2,000",
        "due_2": "2023-04-10",
        "amount_2": "3000",
    },
    "remedies:visit_new": lambda w, e, v: {
        "expected_head": _head(e.case),
        "party": e.c.pk,
        "visited_on": "2023-02-10",
        "place": "自宅",
        "purpose": "apology",
        "apologised": "on",
        "hand_over_side": "contractor",
        "hand_over_method": "cash",
        "collected_by": "contractor",
        "collection_method": "cash",
    },
    # D: C's apology was issued in Tadasu, and is not recorded a second time by hand.
    "remedies:letter_delivery": lambda w, e, v: {"delivery": "post", "sent_on": "2023-02-10"},
    "remedies:ledger_new": lambda w, e, v: _ledger(v, e),
    "remedies:ledger_reverse": lambda w, e, v: {
        "expected_head": _head(e.case),
        "reason": "金額の誤入力",
        "on": "2023-02-10",
    },
    "remedies:transition": lambda w, e, v: {
        "expected_stage": e.case.stage,
        "on": "2023-02-10",
        "note": "関係機関へ照会する。",
    },
    "remedies:document_new": lambda w, e, v: {
        "kind": DocumentKind.APOLOGY,
        "party": e.d.pk,
        "dated": "2023-02-10",
    },
    "documents:municipal": lambda w, e, v: {"cases": [e.case.pk], "dated": "2023-02-10"},
    "receptions:upload": lambda w, e, v: {
        "file": SimpleUploadedFile(
            "uketsuke.csv",
            reception_csv([(w.office.name, "3", "2023-03-01 09:00", "09:20", "新規 五郎", "完了")]),
        )
    },
    "receptions:checklist": lambda w, e, v: dict.fromkeys(
        ["card_returned", "portal_logged_out", "screen_closed", "citizen_signed", "staff_signed"],
        "on",
    ),
    "receptions:counterpart_add": lambda w, e, v: {"affected": e.extra["affected"].pk},
    "overview:deadlines": lambda w, e, v: {str(stage): 12 for stage in TIMED_STAGES},
    "overview:closed_day_new": lambda w, e, v: {"day": "2023-02-13", "name": "臨時閉庁日"},
    "municipality_setup": lambda w, e, v: {
        "code": "439002",
        "name": "みほん町",
        "department": "総務課",
        "sender_title": "みほん町長",
        "sender_name": "山田　一郎",
        "desks": "みほん町役場 住民課窓口",
        "contractors": [w.contractor_co.pk],
        "users-TOTAL_FORMS": "2",
        "users-INITIAL_FORMS": "0",
        "users-0-username": "yamada-kacho",
        "users-0-last_name": "山田",
        "users-0-role": "manager",
        "users-1-username": "kawai",
        "users-1-last_name": "川井",
        "users-1-role": "contractor",
        "users-1-contractor": w.contractor_co.name,
    },
}


def payload(route: Route, world, estate: Estate, variant: str | None) -> dict | None:
    make = PAYLOADS.get(route.name)
    return make(world, estate, variant) if make else None


# ---- calling -----------------------------------------------------------------------------


class Callers:
    """One signed-in client per role. Every call runs in a savepoint that is rolled back, so
    each one meets the same world, whatever the calls before it did."""

    def __init__(self, world):
        self.clients: dict[str, Client] = {}
        self.cookies: dict[str, str] = {}
        # The superuser (no organisation) is no column of the access matrix: its only pages
        # of its own are tested in tests/cases/test_municipality_setup.py; the form fuzzer
        # posts them as it.
        superuser = User.objects.create_superuser("root", "root@example.jp", "x" * 20)
        for role in (*ROLES, "superuser"):
            client = Client()
            if role == "superuser":
                client.force_login(superuser)
                self.cookies[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
            elif role != "anonymous":
                client.force_login(getattr(world, role))
                self.cookies[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
            self.clients[role] = client

    @contextmanager
    def call(self, role: str) -> Iterator[tuple[Client, CaptureQueriesContext]]:
        client = self.clients[role]
        # Only the session: no message cookies or language left over from an earlier call.
        client.cookies = SimpleCookie()
        if role in self.cookies:
            client.cookies[settings.SESSION_COOKIE_NAME] = self.cookies[role]
        # The query log is a bounded deque: left to fill up, CaptureQueriesContext would see
        # none of a call's queries. Emptied per call, it holds all of them.
        reset_queries()
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            try:
                yield client, queries
            finally:
                transaction.set_rollback(True)


def tenant_models() -> list:
    """Every table of the project's own apps, many-to-many tables included."""
    found = []
    for config in (
        apps.get_app_config("cases"),
        apps.get_app_config("remedies"),
        apps.get_app_config("receptions"),
        apps.get_app_config("api"),
    ):
        for model in config.get_models(include_auto_created=True):
            if not model._meta.proxy and model._meta.managed:
                found.append(model)
    return found


def _tables() -> set[str]:
    return {m._meta.db_table for m in tenant_models()}


def snapshot(*, exclude: frozenset[str] = frozenset()) -> str:
    """A digest of every row of the project's tables (but those labelled in `exclude`, e.g.
    "cases.AuditEntry"): equal digests, nothing written."""
    digest = hashlib.sha256()
    with scopes_disabled():
        for model in tenant_models():
            if model._meta.label in exclude:
                continue
            digest.update(model._meta.db_table.encode())
            for row in model._base_manager.order_by("pk").values_list():
                digest.update(repr(row).encode())
    return digest.hexdigest()


def row_counts() -> dict[str, int]:
    with scopes_disabled():
        return {m._meta.label: m._base_manager.count() for m in tenant_models()}


def wrote(
    queries: CaptureQueriesContext, baseline: str, *, exclude: frozenset[str] = frozenset()
) -> bool:
    """Whether the call changed any row of the project's tables (but those in `exclude`,
    against a baseline taken with the same `exclude`). The SQL says whether it may have (a
    write undone by its own savepoint still shows there); the digest decides."""
    tables = _tables()
    for query in queries.captured_queries:
        sql = query["sql"].lstrip().upper()
        if sql.startswith(("INSERT", "UPDATE", "DELETE")) and any(
            f'"{t.upper()}"' in sql or f" {t.upper()} " in sql for t in tables
        ):
            return snapshot(exclude=exclude) != baseline
    return False
