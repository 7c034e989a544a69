"""The reference scenario (shared/seed press release) as demo data, entered through the
same services a user's clicks call. Names of citizens are fictitious; dates, actors and
wording follow the press release. The press release gives no amounts: the 5,000円 used
below is illustrative, and says so in the records.
"""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django_scopes import scopes_disabled

from cases import services
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

from . import ledger
from . import services as remedies
from .models import Channel, Method, Purpose, Side
from .workflow import case_transition

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


ILLUSTRATIVE = "（金額は例示。報道資料に記載なし）"


def _agency(name: str) -> Agency:
    return Agency.objects.get(name=name)


def _case_1(u: dict, offices: dict) -> Case:
    """Yahatahigashi: B's bank account registered in A's portal. B not yet identified;
    the case waits in 関係機関照会 for the Digital Agency to name B."""
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
    staff = u["staff"]
    services.case_update(case=case, by=staff, assignee=staff, prevention=PREVENTION)
    a = services.party_add(
        case=case,
        by=staff,
        label="A氏",
        name="山田 太郎",
        name_kana="ヤマダ タロウ",
        identified_on=date(2023, 2, 22),
    )
    b = services.party_add(
        case=case,
        by=staff,
        label="B氏",
        identified=False,
        identification_note="身元をデジタル庁に照会中",
    )
    services.misregistration_add(
        case=case,
        by=staff,
        source=b,
        target=a,
        data_kind=DataKind.BANK_ACCOUNT,
        corrected_on=date(2023, 2, 22),
        paid_through=False,
        note="デジタル庁の回答により、公金受取口座への交付がないことを確認",
    )
    remedies.contact_add(
        case=case,
        by=staff,
        agencies=[_agency("デジタル庁")],
        contacted_on=date(2023, 2, 22),
        channel=Channel.PHONE,
        request="北九州市からデジタル庁に報告し、A氏、B氏の公金受取口座の状態について調査依頼。",
        answered_on=date(2023, 2, 22),
        answer="デジタル庁からの回答等による以下の2点から、実際の影響がなかったことを確認。\n"
        "・公金受取口座の状態はA氏B氏ともに正しく登録されている\n"
        "・公金受取口座への交付もなされていない",
    )
    case_transition(case=case, step="refer", by=staff, on=date(2023, 2, 22))
    remedies.contact_add(
        case=case,
        by=staff,
        agencies=[_agency("デジタル庁")],
        contacted_on=date(2023, 3, 1),
        channel=Channel.EMAIL,
        request="B氏への謝罪に向け、デジタル庁に該当者の情報提供を依頼。（日付は例示）",
    )
    return case


def _case_2(u: dict, offices: dict) -> Case:
    """Kokuraminami: a visitor's points went to another person's cashless account; the
    operator would not act, so the contractor compensated the visitor. Closed."""
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
    staff, manager = u["staff"], u["manager"]
    services.case_update(case=case, by=staff, assignee=staff, prevention=PREVENTION)
    e = services.party_add(
        case=case,
        by=staff,
        label="E氏",
        name="田中 三郎",
        name_kana="タナカ サブロウ",
        identified_on=date(2022, 9, 21),
    )
    f = services.party_add(
        case=case,
        by=staff,
        label="F氏",
        identified=False,
        identification_note="キャッシュレス決済の名義人。決済事業者は対応不可と回答",
    )
    services.misregistration_add(
        case=case,
        by=staff,
        source=f,
        target=e,
        data_kind=DataKind.CASHLESS_ACCOUNT,
        paid_through=True,
        note="一部のポイントは付与済みで、マイナポイントシステムでの訂正は不可",
    )
    remedies.contact_add(
        case=case,
        by=staff,
        agencies=[_agency("総務省"), _agency("デジタル庁")],
        contacted_on=date(2022, 9, 22),
        channel=Channel.PHONE,
        request="総務省及びデジタル庁に報告し、調査を依頼。",
        answered_on=date(2022, 9, 27),
        answer="総務省及びデジタル庁からの回答により、一部のポイントはすでに付与されており"
        "マイナポイントシステムでの対応は不可能と判明",
    )
    case_transition(case=case, step="refer", by=staff, on=date(2022, 9, 22))
    ledger.ledger_post_misallocation(
        case=case,
        owed=e,
        holder=f,
        amount=5000,
        on=date(2022, 9, 27),
        by=staff,
        note="E氏に付与されるべきポイントがF氏のキャッシュレス決済に付与された" + ILLUSTRATIVE,
    )
    remedies.contact_add(
        case=case,
        by=staff,
        agencies=[_agency("総務省"), _agency("キャッシュレス決済事業者")],
        contacted_on=date(2022, 9, 27),
        channel=Channel.PHONE,
        request="総務省及びキャッシュレス決済事業者に対応について依頼",
        answered_on=date(2022, 10, 18),
        answer="キャッシュレス決済事業者から対応不可の回答",
    )
    case_transition(
        case=case,
        step="negotiate",
        by=staff,
        on=date(2022, 10, 27),
        note="委託事業者と補償方法について協議、対応を打診",
    )
    remedies.agreement_add(
        case=case,
        by=staff,
        payer=Side.CONTRACTOR,
        amount=5000,
        form=Method.CASH,
        agreed_on=date(2022, 11, 10),
        party=e,
        note="委託事業者から補償対応すると回答",
    )
    case_transition(case=case, step="agree", by=staff, on=date(2022, 11, 10))
    remedies.visit_record(
        case=case,
        by=staff,
        party=e,
        visited_on=date(2022, 11, 29),
        place="E氏宅",
        purpose=Purpose.HAND_OVER,
        city_attendees="市担当職員",
        contractor_attendees=AGEC,
        outcome="市担当職員と委託事業者で対象者を訪問し、謝罪及び補償",
        handed_over=5000,
        hand_over_side=Side.CONTRACTOR,
        hand_over_method=Method.CASH,
    )
    ledger.ledger_write_off(
        case=case,
        party=f,
        on=date(2022, 11, 29),
        by=manager,
        reason="決済事業者が対応不可と回答し名義人も特定できないため、回収しない。"
        "E氏への補償は委託事業者が負担",
    )
    case_transition(case=case, step="settle", by=staff, on=date(2022, 11, 29))
    case_transition(case=case, step="close", by=manager, on=date(2022, 11, 29))
    return case


def _case_3(u: dict, offices: dict) -> Case:
    """Yahatanishi: C's points went to D's cashless account; the reception sheets named
    both. The contractor handed C the amount, D's excess was collected at a joint check."""
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
    staff, manager = u["staff"], u["manager"]
    services.case_update(case=case, by=staff, assignee=staff, prevention=PREVENTION)
    c = services.party_add(
        case=case,
        by=staff,
        label="C氏",
        name="佐藤 花子",
        name_kana="サトウ ハナコ",
        identified_on=date(2023, 2, 7),
    )
    d = services.party_add(
        case=case,
        by=staff,
        label="D氏",
        name="鈴木 次郎",
        name_kana="スズキ ジロウ",
        identified_on=date(2023, 2, 7),
    )
    services.misregistration_add(
        case=case,
        by=staff,
        source=d,
        target=c,
        data_kind=DataKind.CASHLESS_ACCOUNT,
        paid_through=True,
        note="C氏に付与されるべきポイントがD氏に2重に付与された",
    )
    remedies.contact_add(
        case=case,
        by=staff,
        agencies=[_agency("マイナポイント緊急窓口")],
        made_by=Side.CONTRACTOR,
        contacted_on=date(2023, 2, 7),
        channel=Channel.PHONE,
        request="委託事業者から総務省（マイナポイント緊急窓口）に連絡し、対応できる旨を確認",
        answered_on=date(2023, 2, 7),
        answer="対応できる旨の回答",
    )
    case_transition(case=case, step="refer", by=staff, on=date(2023, 2, 10))
    ledger.ledger_post_misallocation(
        case=case,
        owed=c,
        holder=d,
        amount=5000,
        on=date(2023, 3, 7),
        by=staff,
        note="マイナポイントの状況をキャッシュレス決済事業者に確認したところ、対応不備"
        "（C氏からの緊急窓口への連絡漏れ）が判明し、以下の状況になっていることが判明\n"
        "C氏：C氏のポイントはD氏に渡し、ポイントが付与されていない\n"
        "D氏：D氏のポイントに加え、C氏に付与されるべきポイントも2重に付与" + ILLUSTRATIVE,
    )
    case_transition(case=case, step="negotiate", by=staff, on=date(2023, 3, 7))
    remedies.agreement_add(
        case=case,
        by=staff,
        payer=Side.CONTRACTOR,
        amount=5000,
        form=Method.CASH,
        agreed_on=date(2023, 3, 7),
        party=c,
        note="C氏、D氏に上記状況を連絡。改めて正しい付与金額になるよう、金額の調整対応を"
        "お願いして了承を得る。",
    )
    case_transition(case=case, step="agree", by=staff, on=date(2023, 3, 7))
    remedies.visit_record(
        case=case,
        by=u["contractor"],
        party=c,
        visited_on=date(2023, 3, 10),
        place="C氏宅",
        purpose=Purpose.HAND_OVER,
        contractor_attendees=AGEC,
        outcome="委託事業者がC氏宅を訪問して謝罪。誤ってD氏に付与された金額をお渡し。",
        handed_over=5000,
        hand_over_side=Side.CONTRACTOR,
        hand_over_method=Method.CASH,
    )
    remedies.visit_record(
        case=case,
        by=staff,
        party=d,
        visited_on=date(2023, 3, 16),
        place="八幡西区役所 マイナポイント支援窓口",
        purpose=Purpose.JOINT_CHECK,
        city_attendees="市職員",
        contractor_attendees=AGEC,
        outcome="委託事業者及び市職員で、八幡西区役所の支援窓口にてD氏に謝罪。マイナポイントの"
        "状態を三者で確認したのち、誤って多く付与されていた金額を徴収。",
        collected=5000,
        collected_by=Side.CONTRACTOR,
        collection_method=Method.CASH,
    )
    case_transition(case=case, step="settle", by=staff, on=date(2023, 3, 16))
    case_transition(case=case, step="close", by=manager, on=date(2023, 3, 16))
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
