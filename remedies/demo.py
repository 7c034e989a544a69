"""The reference story (docs/reference-story.md) as demo data.

The three cases of the reference story, and a fourth, illustrative one (points put right by
the national points system, not in the press release), live in demo_cases.json, a case
interchange file (docs/interchange.md):
loading them replays every action through the same services a user's clicks call, as
the user who took it. Names of citizens are fictitious; dates, actors and wording follow
the press release. The press release gives no amounts: the 5,000円 in the file is
illustrative, and the records say so.

To change the story, change the file (or build the cases in the UI and export them with
`manage.py export_cases`); the organisations and users it refers to are created here.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from cases.agencies import ensure_reference_agencies
from cases.models import (
    Agency,
    Case,
    CaseKind,
    CauseCategory,
    Contractor,
    DataKind,
    Membership,
    Municipality,
    Office,
    Role,
    User,
)
from cases.scoping import tenant_scope
from cases.services import case_open, misregistration_add, party_add

from . import ledger, plans
from .documents.services import document_issue
from .interchange import import_cases
from .models import Channel, DocumentKind, Method, Purpose, Side
from .services import agreement_add, contact_add, visit_record
from .workflow import case_transition

DEMO_PASSWORD = "tadasu-demo"  # noqa: S105  # nosec B105  # published demo password, refused without DEBUG

KITAKYUSHU = "北九州市"
AGEC = "株式会社エイジェック"
OTHER_CONTRACTOR = "株式会社みらい窓口サービス"  # fictitious second company
OTHER_CITY = "みなと市"  # fictitious second municipality

OFFICES = {
    "yahatahigashi": "八幡東区役所 マイナポイント支援窓口",
    "kokuraminami": "小倉南区役所 マイナポイント支援窓口",
    "yahatanishi": "八幡西区役所 マイナポイント支援窓口",
    # Not in the city's press release: an illustrative case, marked as such in its records,
    # of points put right by the national system (国による是正).
    "wakamatsu": "若松区役所 マイナポイント支援窓口",
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    last_name: str
    first_name: str
    role: str | None
    organisation: str | None


USERS = [
    DemoUser("staff", "小倉", "一郎", Role.STAFF, KITAKYUSHU),
    DemoUser("manager", "門司", "和子", Role.MANAGER, KITAKYUSHU),
    DemoUser("contractor", "戸畑", "健", Role.CONTRACTOR, AGEC),
    DemoUser("other-contractor", "若松", "誠", Role.CONTRACTOR, OTHER_CONTRACTOR),
    DemoUser("auditor", "八幡", "聡", Role.AUDITOR, KITAKYUSHU),
    DemoUser("staff-other-city", "港", "陽子", Role.STAFF, OTHER_CITY),
    DemoUser("admin", "", "", None, None),
]


def _organisations() -> dict:
    kitakyushu, _ = Municipality.objects.get_or_create(
        code="401005",
        # As the city's own press release (docs/reference-story.md) is headed and signed.
        defaults={
            "name": KITAKYUSHU,
            "department": "デジタル市役所推進室",
            "contact_phone": "093-582-2144",
            "contact_people": "担当課長：須山 担当係長：三浦（雄）",
            "sender_title": "北九州市デジタル市役所推進室長",
            # The demo manager signs (a fictitious name, as every person of the demo).
            "sender_name": "門司　和子",
            "document_symbol": "デ推",
            # Citizens' letters name the handling department and the person in charge.
            "citizen_department": "デジタル市役所推進室",
            "citizen_phone": "093-582-2144",
            "citizen_person": "小倉",
            # A sample account (みほん銀行 is the demo's fictitious bank).
            "payment_bank": "みほん銀行 北九州支店",
            "payment_account_number": "7654321",
            "payment_account_holder": "北九州市会計管理者",
        },
    )
    other_city, _ = Municipality.objects.get_or_create(
        code="990001",
        defaults={"name": OTHER_CITY, "department": "市民課", "contact_phone": "000-000-0000"},
    )
    offices = {
        key: Office.objects.get_or_create(municipality=kitakyushu, name=name)[0]
        for key, name in OFFICES.items()
    }
    Office.objects.get_or_create(municipality=other_city, name="みなと市役所 市民窓口")
    agec, _ = Contractor.objects.get_or_create(name=AGEC)
    agec.municipalities.add(kitakyushu)
    other, _ = Contractor.objects.get_or_create(name=OTHER_CONTRACTOR)
    other.municipalities.add(kitakyushu, other_city)
    # Reference data (migration 0016); written again only where a test emptied the tables.
    ensure_reference_agencies(Agency)
    return {
        KITAKYUSHU: kitakyushu,
        OTHER_CITY: other_city,
        AGEC: agec,
        OTHER_CONTRACTOR: other,
        "offices": offices,
    }


def _users(orgs: dict) -> dict[str, User]:
    users = {}
    for spec in USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "last_name": spec.last_name,
                "first_name": spec.first_name,
                # example.jp is reserved for examples: reminders in the console, not a mailbox.
                "email": f"{spec.username}@example.jp",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            if spec.role is None:
                user.is_staff = user.is_superuser = True
            user.save()
        if spec.role is not None and not Membership.objects.filter(user=user).exists():
            org = orgs[spec.organisation]
            Membership.objects.create(
                user=user,
                role=spec.role,
                municipality=org if isinstance(org, Municipality) else None,
                contractor=org if isinstance(org, Contractor) else None,
            )
        users[spec.username] = user
    return users


DEMO_CASES = Path(__file__).with_name("demo_cases.json")


@transaction.atomic
def load_demo() -> dict[str, User]:
    # Cross-tenant set-up: the demo spans municipalities and companies, so the scope is
    # lifted here; every case is still written through the services and their checks.
    with scopes_disabled():
        users = _users(_organisations())
        # A case already loaded (same office, same discovery date) is skipped: idempotent.
        import_cases(json.loads(DEMO_CASES.read_text(encoding="utf-8")), skip_existing=True)
    return users


def demo_case_copies(count: int) -> tuple[dict, Iterator[dict]]:
    """The demo file's header and `count` copies of its cases, each copy with seqs of its
    own, for imports of any size (the benchmark, the concurrency tests). The copies are
    made one at a time, so a large file can be written without being held."""
    data = json.loads(DEMO_CASES.read_text(encoding="utf-8"))
    cases = data.pop("cases")

    def shifted(obj, k: int):
        if isinstance(obj, dict):
            return {
                key: (v + k if key == "seq" and isinstance(v, int) else shifted(v, k))
                for key, v in obj.items()
            }
        if isinstance(obj, list):
            return [shifted(v, k) for v in obj]
        return obj

    copies = (shifted(cases[i % len(cases)], (i // len(cases) + 1) * 10_000) for i in range(count))
    return data, copies


def cut_to_compiled(case: dict, *, links_and_contacts: bool = True) -> dict:
    """A demo case (as demo_case_copies makes it) with only the actions the import's
    compiled path handles (remedies.interchange.compiled.COMPILED_KINDS: the opening, its
    edits, the parties and theirs, 経過 lines by hand, links with their corrections and
    excuses, agency contacts with their answers): no money, letters or stage steps, so it
    ends where it was opened, every balance zero. With links_and_contacts=False, without
    those too (what the path's first part handled). For the benchmark of that path
    (tools/bench_import.py --shape compiled, --shape people) and its tests."""
    case = dict(case)
    dropped = ("agreements", "visits", "letters", "ledger", "plans", "transitions", "documents")
    for section in (*dropped, *(() if links_and_contacts else ("links", "contacts"))):
        case[section] = []
    written = {"", "case.discovered", "case.opened", "party.identified"}
    if links_and_contacts:  # the 経過 lines their services write
        written |= {"link.corrected", "link.excused", "contact.made", "contact.answered"}
    case["timeline"] = [e for e in case["timeline"] if e.get("action", "") in written]
    case["stage"] = "inquiry"
    case["parties"] = [dict(party, balance=0) for party in case["parties"]]
    return case


# ---- a fourth case: an excess returned in instalments (issue 15) ------------------------

INSTALMENT_OFFICE = "戸畑区役所 マイナポイント支援窓口"  # fictitious case at a real ward's desk


def load_instalment_demo() -> Case | None:
    """A cashless link error whose excess (15,000円, illustrative) is being returned in three
    instalments: the first paid on time, the second missed, the third still to come. Dated
    back from today, so that the second stays overdue and the third is never due yet,
    whenever the demo is loaded. Written through the services, as staff and manager would;
    skipped when the case is there already (idempotent)."""
    with scopes_disabled():
        city = Municipality.objects.get(code="401005")
        office, _ = Office.objects.get_or_create(municipality=city, name=INSTALMENT_OFFICE)
        if Case.objects.filter(office=office).exists():
            return None
        staff = User.objects.get(username="staff")
        agec = Contractor.objects.get(name=AGEC)
        agency = Agency.objects.get(name="マイナポイント緊急窓口")
    t = timezone.localdate()

    def day(n: int):
        return t - timedelta(days=n)

    amount = 15000
    with transaction.atomic(), tenant_scope(staff), translation.override("ja"):
        case = case_open(
            by=staff,
            office=office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=agec,
            discovered_on=day(130),
            discovery="E氏から、ポイントが付与されていないとの問合せ。",
            summary="E氏のマイナポイントが、F氏のキャッシュレス決済サービスに付与されていた"
            "（金額は例示）。",
            cause_category=CauseCategory.LOGOUT_OMITTED,
            cause_text="前の方の手続後にログアウトせず、次の方の手続を行った。",
            prevention="一人の対応を終える度に必ずログアウトし、完了チェック表で確認する。",
            assignee=staff,
        )
        e = party_add(case=case, by=staff, label="E氏", name="山田 美咲")
        f = party_add(
            case=case,
            by=staff,
            label="F氏",
            name="中村 健太",
            address="北九州市戸畑区千防一丁目1番1号",
        )
        misregistration_add(
            case=case,
            by=staff,
            source=f,
            target=e,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=True,
        )
        contact_add(
            case=case,
            by=staff,
            agencies=[agency],
            contacted_on=day(129),
            channel=Channel.PHONE,
            request="E氏・F氏のポイント付与状況を照会。",
            answered_on=day(125),
            answer="E氏分のポイントはF氏の決済サービスに付与済み。取消しはできない。",
        )
        case_transition(case=case, step="refer", by=staff, on=day(129))
        ledger.ledger_post_misallocation(
            case=case, owed=e, holder=f, amount=amount, on=day(125), by=staff
        )
        case_transition(case=case, step="negotiate", by=staff, on=day(125))
        agreement_add(
            case=case,
            by=staff,
            payer=Side.CONTRACTOR,
            amount=amount,
            form=Method.CASH,
            agreed_on=day(120),
            party=e,
        )
        case_transition(case=case, step="agree", by=staff, on=day(120))
        visit_record(
            case=case,
            by=staff,
            party=e,
            visited_on=day(115),
            place="E氏宅",
            purpose=Purpose.HAND_OVER,
            city_attendees="市職員1名",
            contractor_attendees="委託事業者2名",
            handed_over=amount,
            hand_over_side=Side.CONTRACTOR,
            hand_over_method=Method.CASH,
        )
        visit_record(
            case=case,
            by=staff,
            party=f,
            visited_on=day(115),
            place="戸畑区役所",
            purpose=Purpose.APOLOGY,
            city_attendees="市職員1名",
            contractor_attendees="委託事業者1名",
            outcome="F氏に謝罪し、重複して付与された分の返還をお願いした。一括での返還は難しいとのこと。",
        )
        case_transition(case=case, step="settle", by=staff, on=day(110))
        plans.plan_agree(
            case=case,
            party=f,
            agreed_on=day(100),
            instalments=[(day(70), 5000), (day(35), 5000), (t + timedelta(days=25), 5000)],
            note="F氏の申出により、毎月5,000円ずつの3回分割とした。",
            by=staff,
        )
        document_issue(
            kind=DocumentKind.REPAYMENT_REQUEST, by=staff, case=case, party=f, dated=day(98)
        )
        ledger.ledger_post_collection(
            case=case,
            party=f,
            amount=5000,
            side=Side.MUNICIPALITY,
            method=Method.BANK_TRANSFER,
            on=day(72),
            by=staff,
            note="第1回分",
        )
    # In settlement: the case waits for the rest of F's instalments before a manager closes it.
    return case
