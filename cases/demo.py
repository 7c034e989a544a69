"""The reference scenario (shared/seed press release) as demo data, entered through the
same services a user's clicks call. Names of citizens are fictitious; dates, actors and
wording follow the press release.
"""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django_scopes import scopes_disabled

from . import services
from .models import (
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

DEMO_PASSWORD = "tadasu-demo"  # noqa: S105 - published demo password, refused without DEBUG

KITAKYUSHU = "北九州市"
AGEC = "株式会社エイジェック"
OTHER_CONTRACTOR = "株式会社みらい窓口サービス"  # fictitious second company
OTHER_CITY = "みなと市"  # fictitious second municipality

OFFICES = {
    "yahatahigashi": "八幡東区役所 マイナポイント支援窓口",
    "kokuraminami": "小倉南区役所 マイナポイント支援窓口",
    "yahatanishi": "八幡西区役所 マイナポイント支援窓口",
}

CAUSE = (
    "支援窓口で、先に手続きした方が手続きの途中で中断し帰宅された後、画面をログアウトせず、"
    "次の方の手続きを開始したことによる事務ミス。"
)
PREVENTION = (
    "「マイナポイント申込支援マニュアル」に基づいた処理の実施を再度徹底。\n"
    "一人の対応を終える度に必ずログアウトし、申込画面を終了することを徹底。\n"
    "特に、手続き途中で中断して対応を終える場合は、リーダーが確認する手順を追加。\n"
    "支援窓口における手続き終了後、市民と支援者の両方で完了チェック表"
    "（マイナンバーカードの返却、マイナポータルからのログアウト、申込画面の終了）を"
    "チェックし、サインする。"
)


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
        defaults={
            "name": KITAKYUSHU,
            "department": "デジタル市役所推進室",
            "contact_phone": "093-582-2144",
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
            defaults={"last_name": spec.last_name, "first_name": spec.first_name},
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


def _case_1(u: dict, offices: dict) -> Case:
    """Yahatahigashi: B's bank account registered in A's portal. B not yet identified."""
    case = services.case_open(
        by=u["contractor"],
        office=offices["yahatahigashi"],
        kind=CaseKind.ACCOUNT_MISREGISTRATION,
        discovered_on=date(2023, 2, 22),
        reported_on=date(2023, 2, 22),
        discovery="八幡東区役所の支援窓口に来た方（A氏）のマイナポータルで、別人（B氏）の口座情報が"
        "登録されていることが判明。その場で登録内容を修正して、お詫び。",
        summary="八幡東区役所のマイナポイント支援窓口において、マイナポータルから公金受取口座を"
        "登録する際、本人名義の口座を登録するところ、誤って別人の情報を登録した。",
        cause_category=CauseCategory.LOGOUT_OMITTED,
        cause_text=CAUSE,
    )
    services.case_update(case=case, by=u["staff"], assignee=u["staff"], prevention=PREVENTION)
    a = services.party_add(
        case=case,
        by=u["staff"],
        label="A氏",
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        identified_on=date(2023, 2, 22),
    )
    b = services.party_add(
        case=case,
        by=u["staff"],
        label="B氏",
        identified=False,
        identification_note="身元をデジタル庁に照会中",
    )
    services.misregistration_add(
        case=case,
        by=u["staff"],
        source=b,
        target=a,
        data_kind=DataKind.BANK_ACCOUNT,
        corrected_on=date(2023, 2, 22),
        paid_through=False,
        note="デジタル庁の回答により、公金受取口座への交付がないことを確認",
    )
    for on, actor, text in [
        (
            date(2023, 2, 22),
            KITAKYUSHU,
            "北九州市からデジタル庁に報告し、A氏、B氏の公金受取口座の状態について調査依頼。",
        ),
        (
            date(2023, 2, 22),
            "デジタル庁",
            "デジタル庁からの回答等による以下の2点から、実際の影響がなかったことを確認。"
            "・公金受取口座の状態はA氏B氏ともに正しく登録されている"
            "・公金受取口座への交付もなされていない",
        ),
    ]:
        services.timeline_add(case=case, by=u["staff"], occurred_on=on, actor=actor, text=text)
    return case


def _case_2(u: dict, offices: dict) -> Case:
    """Kokuraminami: a visitor's points linked to another person's cashless account."""
    case = services.case_open(
        by=u["contractor"],
        office=offices["kokuraminami"],
        kind=CaseKind.CASHLESS_LINK,
        discovered_on=date(2022, 9, 21),
        reported_on=date(2022, 9, 21),
        discovery="小倉南区役所の支援窓口に来た方のマイナポイントに、別人のキャッシュレス決済が"
        "登録されていることが判明。謝罪して調査結果をお知らせする旨を説明。",
        summary="小倉南区役所のマイナポイント支援窓口において、マイナポイントシステムから"
        "キャッシュレス決済を登録する際、誤って別人の情報を登録した。"
        "（E氏・F氏は本システム上の仮称）",
        cause_category=CauseCategory.LOGOUT_OMITTED,
        cause_text=CAUSE,
    )
    services.case_update(case=case, by=u["staff"], assignee=u["staff"], prevention=PREVENTION)
    e = services.party_add(
        case=case,
        by=u["staff"],
        label="E氏",
        name="田中 三郎",
        name_kana="タナカ サブロウ",
        identified_on=date(2022, 9, 21),
    )
    f = services.party_add(
        case=case,
        by=u["staff"],
        label="F氏",
        identified=False,
        identification_note="キャッシュレス決済の名義人。決済事業者は対応不可と回答",
    )
    services.misregistration_add(
        case=case,
        by=u["staff"],
        source=f,
        target=e,
        data_kind=DataKind.CASHLESS_ACCOUNT,
        paid_through=True,
        note="一部のポイントは付与済みで、マイナポイントシステムでの訂正は不可",
    )
    for on, actor, text in [
        (date(2022, 9, 22), KITAKYUSHU, "総務省及びデジタル庁に報告し、調査を依頼。"),
        (
            date(2022, 9, 27),
            "総務省・デジタル庁",
            "総務省及びデジタル庁からの回答により、一部のポイントはすでに付与されており"
            "マイナポイントシステムでの対応は不可能と判明",
        ),
        (date(2022, 9, 27), KITAKYUSHU, "総務省及びキャッシュレス決済事業者に対応について依頼"),
        (
            date(2022, 10, 18),
            "キャッシュレス決済事業者",
            "キャッシュレス決済事業者から対応不可の回答",
        ),
        (date(2022, 10, 27), KITAKYUSHU, "委託事業者と補償方法について協議、対応を打診"),
        (date(2022, 11, 10), AGEC, "委託事業者から補償対応すると回答"),
        (
            date(2022, 11, 29),
            f"{KITAKYUSHU}・{AGEC}",
            "市担当職員と委託事業者で対象者を訪問し、謝罪及び補償",
        ),
    ]:
        services.timeline_add(case=case, by=u["staff"], occurred_on=on, actor=actor, text=text)
    return case


def _case_3(u: dict, offices: dict) -> Case:
    """Yahatanishi: C's points went to D's cashless account; found through reception sheets."""
    case = services.case_open(
        by=u["contractor"],
        office=offices["yahatanishi"],
        kind=CaseKind.CASHLESS_LINK,
        discovered_on=date(2023, 2, 7),
        reported_on=date(2023, 2, 10),
        discovery="八幡西区役所の支援窓口に来た方（C氏）のマイナポイントが、別人（D氏）の"
        "キャッシュレス決済が登録されていることが判明。謝罪して結果をお知らせする旨を説明。"
        "9月から運用開始した受付表から、C氏、D氏両名を把握。",
        summary="八幡西区役所のマイナポイント支援窓口において、マイナポイントシステムから"
        "キャッシュレス決済を登録する際、誤って別人の情報を登録した。",
        cause_category=CauseCategory.LOGOUT_OMITTED,
        cause_text=CAUSE,
    )
    services.case_update(case=case, by=u["staff"], assignee=u["staff"], prevention=PREVENTION)
    c = services.party_add(
        case=case,
        by=u["staff"],
        label="C氏",
        name="佐藤 花子",
        name_kana="サトウ ハナコ",
        identified_on=date(2023, 2, 7),
    )
    d = services.party_add(
        case=case,
        by=u["staff"],
        label="D氏",
        name="鈴木 次郎",
        name_kana="スズキ ジロウ",
        identified_on=date(2023, 2, 7),
    )
    services.misregistration_add(
        case=case,
        by=u["staff"],
        source=d,
        target=c,
        data_kind=DataKind.CASHLESS_ACCOUNT,
        paid_through=True,
        note="C氏に付与されるべきポイントがD氏に2重に付与された",
    )
    for on, actor, text in [
        (
            date(2023, 2, 7),
            AGEC,
            "委託事業者から総務省（マイナポイント緊急窓口）に連絡し、対応できる旨を確認",
        ),
        (
            date(2023, 3, 7),
            KITAKYUSHU,
            "マイナポイントの状況をキャッシュレス決済事業者に確認したところ、対応不備"
            "（C氏からの緊急窓口への連絡漏れ）が判明し、以下の状況になっていることが判明\n"
            "C氏：C氏のポイントはD氏に渡し、ポイントが付与されていない\n"
            "D氏：D氏のポイントに加え、C氏に付与されるべきポイントも2重に付与",
        ),
        (
            date(2023, 3, 7),
            KITAKYUSHU,
            "C氏、D氏に上記状況を連絡。改めて正しい付与金額になるよう、金額の調整対応を"
            "お願いして了承を得る。",
        ),
        (
            date(2023, 3, 10),
            AGEC,
            "委託事業者がC氏宅を訪問して謝罪。誤ってD氏に付与された金額をお渡し。",
        ),
        (
            date(2023, 3, 16),
            f"{KITAKYUSHU}・{AGEC}",
            "委託事業者及び市職員で、八幡西区役所の支援窓口にてD氏に謝罪。マイナポイントの状態を"
            "三者で確認したのち、誤って多く付与されていた金額を徴収。",
        ),
    ]:
        services.timeline_add(case=case, by=u["staff"], occurred_on=on, actor=actor, text=text)
    return case


DEMO_CASES = [
    # (office key, discovered on, builder) — the natural key that keeps load_demo idempotent.
    ("yahatahigashi", date(2023, 2, 22), _case_1),
    ("kokuraminami", date(2022, 9, 21), _case_2),
    ("yahatanishi", date(2023, 2, 7), _case_3),
]


@transaction.atomic
def load_demo() -> dict[str, User]:
    # Cross-tenant set-up: the demo spans municipalities and companies, so the scope is
    # lifted here; every write still goes through the services and their checks.
    with scopes_disabled():
        orgs = _organisations()
        users = _users(orgs)
        offices = orgs["offices"]
        for key, discovered_on, build in DEMO_CASES:
            exists = Case.objects.filter(office=offices[key], discovered_on=discovered_on).exists()
            if not exists:
                build(users, offices)
    return users
