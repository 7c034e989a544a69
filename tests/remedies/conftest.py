from datetime import date

import pytest

from cases import services
from cases.models import CaseKind, CauseCategory, DataKind
from cases.scoping import tenant_scope
from remedies import services as remedies
from remedies.models import Channel


@pytest.fixture
def story(world):
    """A case of world.city at world.contractor_co's desk: C and D identified, D's cashless
    account linked into C's record, cause and prevention recorded. Still in 調査."""
    with tenant_scope(world.staff):
        case = services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=world.contractor_co,
            discovered_on=date(2023, 2, 7),
            cause_category=CauseCategory.LOGOUT_OMITTED,
            cause_text="ログアウト漏れ",
            prevention="一人の対応を終える度に必ずログアウトする。",
        )
        c = services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
        d = services.party_add(case=case, by=world.staff, label="D氏", name="鈴木 次郎")
        services.misregistration_add(
            case=case,
            by=world.staff,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=True,
        )
    return case, c, d


@pytest.fixture
def answered(world, story):
    """story, plus an answered agency contact."""
    case, c, d = story
    from cases.models import Agency

    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    with tenant_scope(world.staff):
        remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=date(2023, 2, 8),
            channel=Channel.PHONE,
            request="調査を依頼。",
            answered_on=date(2023, 2, 9),
            answer="ポイントは付与済み。",
        )
    return case, c, d
