"""The main pages, in one list: the accessibility test opens each of them.

A page is (name, who looks at it, its URL from the demo's facts, whether an empty submit
shows its errors). A new page — the dashboard, say — is one more line here.
`optional=True`: the page may not exist on this branch yet; a 404 skips it with a note.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Facts:
    """Where things are in the demo loaded by the `demo` fixture."""

    open_ref: str  # 401005-2022-001: A氏/B氏, waiting for the agency, B unidentified
    closed_ref: str  # 401005-2022-003: C氏/D氏, closed
    party_id: int  # A氏
    contact_id: int  # the unanswered request for B's details
    entry_id: int  # a ledger entry of the open case
    sheet_id: int  # the demo's reception sheet (receptions/demo_receptions.csv)
    reception_id: int  # its first reception
    link_id: int  # the open case's link B氏 → A氏
    job_id: int  # the import of that sheet, as a finished background job
    letter_id: int  # the apology record of the お詫び状 issued to A氏 on the open case


@dataclass(frozen=True)
class MainPage:
    name: str
    user: str | None  # None: not logged in
    url: Callable[[Facts], str]
    submit_empty: str | None = None  # the button that submits the form with its errors
    optional: bool = False
    status: int = 200


def _case(f: Facts, tail: str = "") -> str:
    return f"/cases/{f.open_ref}/{tail}"


PAGES: list[MainPage] = [
    MainPage("login", None, lambda f: "/accounts/login/"),
    MainPage("case list", "staff", lambda f: "/cases/"),
    MainPage("case list, filtered", "manager", lambda f: "/cases/?q=%E4%BD%90%E8%97%A4"),
    MainPage("case page (open)", "staff", lambda f: _case(f)),
    MainPage("case page (closed)", "manager", lambda f: f"/cases/{f.closed_ref}/"),
    MainPage("case page (contractor)", "contractor", lambda f: _case(f)),
    MainPage("open a case", "staff", lambda f: "/cases/new/", submit_empty="登録する"),
    MainPage("report an error", "contractor", lambda f: "/cases/new/", submit_empty="報告を送信"),
    MainPage("edit the case", "staff", lambda f: _case(f, "edit/")),
    MainPage("add a person", "staff", lambda f: _case(f, "parties/new/"), submit_empty="保存"),
    MainPage("edit a person", "staff", lambda f: _case(f, f"parties/{f.party_id}/edit/")),
    MainPage("record a link", "staff", lambda f: _case(f, "links/new/"), submit_empty="保存"),
    MainPage(
        "correct a link",
        "staff",
        lambda f: _case(f, f"links/{f.link_id}/correct/"),
        submit_empty="保存",
    ),
    MainPage(
        "why a link cannot be corrected",
        "manager",
        lambda f: _case(f, f"links/{f.link_id}/excuse/"),
    ),
    MainPage("timeline entry", "staff", lambda f: _case(f, "timeline/new/"), submit_empty="保存"),
    MainPage("agency contact", "staff", lambda f: _case(f, "contacts/new/"), submit_empty="保存"),
    MainPage(
        "agency answer",
        "staff",
        lambda f: _case(f, f"contacts/{f.contact_id}/answer/"),
        submit_empty="保存",
    ),
    MainPage("agreement", "staff", lambda f: _case(f, "agreements/new/"), submit_empty="保存"),
    MainPage("visit", "contractor", lambda f: _case(f, "visits/new/"), submit_empty="保存"),
    MainPage("repayment plan", "staff", lambda f: _case(f, "plans/new/"), submit_empty="保存"),
    MainPage("apology letter sent", "staff", lambda f: _case(f, f"letters/{f.letter_id}/sent/")),
    *[
        MainPage(f"ledger: {kind}", user, lambda f, k=kind: _case(f, f"ledger/{k}/new/"), "保存")
        for kind, user in (
            ("misallocation", "staff"),
            ("payment", "staff"),
            ("collection", "staff"),
            ("regrant", "staff"),
            ("write_off", "manager"),
        )
    ],
    # The open case holds no points: the page says why no national correction can be
    # recorded, with no form (the form itself: tests/remedies/test_national_correction.py).
    MainPage(
        "ledger: national_correction (a case without points)",
        "staff",
        lambda f: _case(f, "ledger/national_correction/new/"),
    ),
    MainPage("reverse an entry", "staff", lambda f: _case(f, f"ledger/{f.entry_id}/reverse/")),
    MainPage("prepare a document", "staff", lambda f: _case(f, "documents/new/")),
    *[
        MainPage(
            f"prepare a document: {kind}",
            "staff",
            lambda f, k=kind: _case(f, f"documents/new/?kind={k}"),
            submit_empty="発行する" if kind != "report" else None,
        )
        for kind in ("apology", "receipt", "settlement", "report")
    ],
    MainPage("documents", "staff", lambda f: "/documents/"),
    MainPage("audit trail", "auditor", lambda f: "/audit/"),
    MainPage("whole timeline", "staff", lambda f: _case(f, "timeline/")),
    MainPage("work queues", "staff", lambda f: "/queues/"),
    MainPage("work queues (manager)", "manager", lambda f: "/queues/"),
    MainPage("dashboard", "manager", lambda f: "/dashboard/"),
    MainPage(
        "dashboard, a bad period",
        "manager",
        lambda f: "/dashboard/?start=2023-02-01&end=2023-01-01",
    ),
    MainPage("deadline settings", "manager", lambda f: "/dashboard/deadlines/"),
    MainPage("reception sheets", "staff", lambda f: "/receptions/"),
    MainPage("import a reception sheet", "staff", lambda f: "/receptions/import/"),
    MainPage("a reception sheet", "staff", lambda f: f"/receptions/sheets/{f.sheet_id}/"),
    MainPage("desk checklist", "staff", lambda f: f"/receptions/{f.reception_id}/checklist/"),
    MainPage("background jobs", "staff", lambda f: "/jobs/"),
    MainPage("a background job", "staff", lambda f: f"/jobs/{f.job_id}/"),
    MainPage("API tokens", "manager", lambda f: "/api-tokens/", submit_empty="発行する"),
    MainPage("not found", "contractor", lambda f: "/cases/no-such-case/", status=404),
    MainPage("not allowed", "auditor", lambda f: "/cases/new/", status=403),
    MainPage(
        "set up a municipality",
        "admin",
        lambda f: "/setup/municipality/",
        submit_empty="自治体を登録する",
    ),
]
