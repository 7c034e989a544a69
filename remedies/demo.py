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
from pathlib import Path

from django.db import transaction
from django_scopes import scopes_disabled

from cases.models import (
    Agency,
    Contractor,
    Membership,
    Municipality,
    Office,
    Role,
    User,
)

from .interchange import import_cases

DEMO_PASSWORD = "tadasu-demo"  # noqa: S105  # nosec B105  # published demo password, refused without DEBUG

KITAKYUSHU = "北九州市"
AGEC = "株式会社エイジェック"
OTHER_CONTRACTOR = "株式会社みらい窓口サービス"  # fictitious second company
OTHER_CITY = "みなと市"  # fictitious second municipality

OFFICES = {
    "yahatahigashi": "八幡東区役所 マイナポイント支援窓口",
    "kokuraminami": "小倉南区役所 マイナポイント支援窓口",
    "yahatanishi": "八幡西区役所 マイナポイント支援窓口",
    # The fourth case is not in the city's press release: an illustrative case, marked as
    # such in its records, of points put right by the national system (国による是正).
    "tobata": "戸畑区役所 マイナポイント支援窓口",
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
    for name, kind in [
        ("デジタル庁", Agency.Kind.NATIONAL),
        ("総務省", Agency.Kind.NATIONAL),
        ("マイナポイント緊急窓口", Agency.Kind.HELPDESK),
        ("キャッシュレス決済事業者", Agency.Kind.PAYMENT_OPERATOR),
    ]:
        Agency.objects.get_or_create(name=name, defaults={"kind": kind})
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
