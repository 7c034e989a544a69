"""Synthetic national-scale data for `make bench`, inserted in bulk.

A benchmark needs 100,000 cases in minutes, so rows are inserted with bulk_create instead
of through the services (which write audit entries one by one). The rows are shaped like
the services' own: every case has its 経過 (case.discovered, case.opened, stage.* entries
and notes), two linked parties with encrypted contact details and a search key, an agency
contact, and ledger entries whose balances net out for closed cases.

Shape (per case, on average): 2 parties, 1 link, 10 timeline entries, 5 ledger entries,
1 agency contact. Cases are spread over MUNICIPALITIES cities; the benchmark's own city
holds one case in five (a large city), so its pages grow with the data instead of hiding
behind the tenant filter.
"""

import random
from collections.abc import Iterator
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from tqdm import tqdm

from cases.deadlines import STILL_WAITING
from cases.models import (
    Agency,
    Case,
    CaseKind,
    CauseCategory,
    Contractor,
    DataKind,
    Membership,
    Misregistration,
    Municipality,
    Office,
    Party,
    Role,
    Stage,
    TimelineEvent,
    User,
)
from cases.search import party_search_key
from remedies.ledger import rebuild_city_totals, totals_from_rows
from remedies.models import AgencyContact, Channel, EntryKind, LedgerEntry, LedgerTotal

MUNICIPALITIES = 50
OFFICES_PER_CITY = 4
CONTRACTORS = 10
HOME_SHARE = 5  # one case in HOME_SHARE belongs to the benchmark's city
CHUNK = 1000
PASSWORD = "bench-password-1"  # noqa: S105  # nosec B105  # synthetic users of a throwaway database

SURNAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
]
GIVEN = [
    ("花子", "ハナコ"),
    ("次郎", "ジロウ"),
    ("一郎", "イチロウ"),
    ("美咲", "ミサキ"),
    ("直樹", "ナオキ"),
    ("恵子", "ケイコ"),
    ("裕子", "ユウコ"),
    ("悠斗", "ユウト"),
]
# Where cases stand: most are closed, the rest spread over the open stages.
STAGES = [Stage.CLOSED] * 6 + [
    Stage.INQUIRY,
    Stage.AGENCY_CONTACT,
    Stage.NEGOTIATION,
    Stage.VISIT,
    Stage.SETTLEMENT,
    Stage.WITHDRAWN,
]
PATH = [
    ("refer", Stage.AGENCY_CONTACT),
    ("negotiate", Stage.NEGOTIATION),
    ("agree", Stage.VISIT),
    ("settle", Stage.SETTLEMENT),
    ("close", Stage.CLOSED),
]
EPOCH = date(2022, 9, 1)


class World:
    """The organisations and users every chunk of cases refers to."""

    def __init__(self):
        """The demo's organisations (remedies.demo) must be loaded first: the benchmark's
        city is the demo's 北九州市, so the demo's case file imports into it."""
        password = make_password(PASSWORD)
        self.home = Municipality.objects.get(code="401005")
        others = Municipality.objects.bulk_create(
            [
                Municipality(
                    code=f"{410000 + i:06d}",
                    name=f"ベンチ市{i}",
                    department="デジタル推進課",
                    document_symbol="デ推",
                    sender_title="市長",
                )
                for i in range(1, MUNICIPALITIES)
            ]
        )
        self.cities = [self.home, *others]
        self.offices = {self.home.pk: list(self.home.offices.order_by("id"))}
        for city in others:
            self.offices[city.pk] = Office.objects.bulk_create(
                [
                    Office(municipality=city, name=f"第{j + 1}区役所 支援窓口")
                    for j in range(OFFICES_PER_CITY)
                ]
            )
        self.contractors = Contractor.objects.bulk_create(
            [Contractor(name=f"株式会社ベンチ窓口{i}") for i in range(CONTRACTORS)]
        )
        through = Contractor.municipalities.through
        through.objects.bulk_create(
            [
                through(contractor_id=c.pk, municipality_id=city.pk)
                for i, c in enumerate(self.contractors)
                for city in [*self.cities[i % 5 :: 5], self.home]
            ],
            ignore_conflicts=True,
        )
        self.agency = Agency.objects.get_or_create(
            name="デジタル庁", defaults={"kind": Agency.Kind.NATIONAL}
        )[0]
        users = [
            (User(username=f"{role}-{city.code}", password=password), role, city)
            for city in others
            for role in (Role.STAFF, Role.MANAGER)
        ]
        User.objects.bulk_create([u for u, _r, _c in users])
        Membership.objects.bulk_create(
            [Membership(user=u, role=r, municipality=c) for u, r, c in users]
        )
        self.staff = {c.pk: u for u, r, c in users if r == Role.STAFF}
        self.home_staff = User.objects.get(username="staff")
        self.manager = User.objects.get(username="manager")
        self.staff[self.home.pk] = self.home_staff

    @classmethod
    def load(cls) -> "World":
        """The world an earlier run seeded (`tools/bench.py --keep`)."""
        world = cls.__new__(cls)
        world.home = Municipality.objects.get(code="401005")
        others = list(
            Municipality.objects.filter(code__gt="410000", code__lt="420000").order_by("id")
        )
        world.cities = [world.home, *others]
        world.offices = {city.pk: list(city.offices.order_by("id")) for city in world.cities}
        world.contractors = list(
            Contractor.objects.filter(name__startswith="株式会社ベンチ窓口").order_by("id")
        )
        world.agency = Agency.objects.get(name="デジタル庁")
        world.home_staff = User.objects.get(username="staff")
        world.manager = User.objects.get(username="manager")
        by_name = {u.username: u for u in User.objects.filter(username__startswith="staff-")}
        world.staff = {city.pk: by_name[f"staff-{city.code}"] for city in others}
        world.staff[world.home.pk] = world.home_staff
        return world

    def city_of(self, i: int) -> Municipality:
        if i % HOME_SHARE == 0:
            return self.home
        return self.cities[1 + i % (MUNICIPALITIES - 1)]


def _name(rng: random.Random) -> tuple[str, str]:
    (family, family_kana), (given, given_kana) = rng.choice(SURNAMES), rng.choice(GIVEN)
    return f"{family} {given}", f"{family_kana} {given_kana}"


def _case_rows(world: World, start: int, stop: int, rng: random.Random) -> list[Case]:
    cases = []
    for i in range(start, stop):
        city = world.city_of(i)
        discovered = EPOCH + timedelta(days=rng.randrange(1200))
        stage = STAGES[i % len(STAGES)]
        cases.append(
            Case(
                municipality=city,
                reference=f"{city.code}-B-{i:07d}",
                kind=CaseKind.CASHLESS_LINK if i % 2 else CaseKind.ACCOUNT_MISREGISTRATION,
                summary="窓口での手続中に、別人の情報が登録された。",
                office=(offices := world.offices[city.pk])[i % len(offices)],
                contractor=world.contractors[i % CONTRACTORS],
                discovered_on=discovered,
                discovery="本人の再来庁により判明。",
                cause_category=CauseCategory.LOGOUT_OMITTED if i % 3 else CauseCategory.OTHER,
                cause_text="ログアウト漏れ",
                prevention="一人の対応を終える度に必ずログアウトする。" if i % 2 else "",
                stage=stage,
                stage_since=discovered + timedelta(days=rng.randrange(60)),
                opened_on=discovered + timedelta(days=rng.randrange(3)),
                assignee=world.staff[city.pk],
                created_by=world.staff[city.pk],
            )
        )
    return Case.objects.bulk_create(cases)


def _parties(cases: list[Case], rng: random.Random, per_case: int = 2) -> list[Party]:
    parties = []
    for case in cases:
        for k in range(per_case):
            name, kana = _name(rng)
            parties.append(
                Party(
                    case=case,
                    label=f"{'CD'[k]}氏" if per_case == 2 else f"P{k + 1}氏",
                    name=name,
                    name_kana=kana,
                    phone=f"093-{rng.randrange(1000):03d}-{rng.randrange(10000):04d}",
                    address="北九州市（架空）1-1",
                    payment_service="みほんペイ",
                    payment_account=f"MP-{rng.randrange(10**8):08d}",
                    search_key=party_search_key(name, kana),
                    identified_on=case.discovered_on,
                )
            )
    return Party.objects.bulk_create(parties)


def _timeline(case: Case, rng: random.Random, entries: int = 10) -> Iterator[TimelineEvent]:
    by = case.created_by
    day = case.discovered_on
    yield TimelineEvent(
        case=case,
        occurred_on=day,
        actor="窓口",
        text="判明",
        action="case.discovered",
        created_by=by,
    )
    yield TimelineEvent(
        case=case,
        occurred_on=day,
        actor="市",
        text="報告を受けた",
        action="case.opened",
        created_by=by,
    )
    written = 2
    if case.stage not in (Stage.INQUIRY, Stage.WITHDRAWN):
        for step, target in PATH:
            day += timedelta(days=rng.randrange(1, 12))
            yield TimelineEvent(
                case=case,
                occurred_on=day,
                actor="市",
                text="段階を変更",
                action=f"stage.{step}",
                created_by=by,
                in_story=False,
            )
            written += 1
            if target == case.stage:
                break
    for n in range(entries - written):
        yield TimelineEvent(
            case=case,
            occurred_on=day,
            actor="市",
            text=f"電話で状況を確認した（{n + 1}）。",
            created_by=by,
        )


def _ledger(case: Case, c: Party, d: Party, rng: random.Random) -> Iterator[LedgerEntry]:
    """C was owed what went to D. A settled case is paid in full (the city adds a 1,000円
    gift certificate to the contractor's cash) and D's excess collected: every balance is
    zero. An open case is half paid and half collected."""
    amount = rng.choice([3000, 5000, 8000, 15000])
    settled = case.stage in (Stage.CLOSED, Stage.SETTLEMENT)
    common = {"case": case, "on": case.discovered_on, "created_by": case.created_by}
    yield LedgerEntry(party=c, kind=EntryKind.MISALLOCATION, delta=amount, **common)
    yield LedgerEntry(party=d, kind=EntryKind.MISALLOCATION, delta=-amount, **common)
    cash = amount - 1000 if settled else amount // 2
    yield LedgerEntry(
        party=c, kind=EntryKind.PAYMENT, delta=-cash, side="contractor", method="cash", **common
    )
    yield LedgerEntry(
        party=d,
        kind=EntryKind.COLLECTION,
        delta=amount if settled else amount // 2,
        side="contractor",
        method="cash",
        **common,
    )
    if settled:
        yield LedgerEntry(
            party=c,
            kind=EntryKind.PAYMENT,
            delta=-1000,
            side="municipality",
            method="gift_certificate",
            **common,
        )


def _totals(entries: list[LedgerEntry]) -> None:
    """The per-case totals the ledger services keep, for rows inserted around them."""
    rows = ((e.case_id, e.party_id, e.kind, e.side, e.delta) for e in entries)
    LedgerTotal.objects.bulk_create(
        [LedgerTotal(case_id=case_id, **v) for case_id, v in totals_from_rows(rows).items()]
    )


def seed(world: World, start: int, stop: int, *, seed: int = 748) -> None:
    """Add cases number start … stop-1 with everything they hold."""
    rng = random.Random(seed + start)  # noqa: S311  # synthetic data, not security
    through = AgencyContact.agencies.through
    for chunk in tqdm(range(start, stop, CHUNK), desc=f"cases {start:,}–{stop:,}", unit="k cases"):
        cases = _case_rows(world, chunk, min(chunk + CHUNK, stop), rng)
        parties = _parties(cases, rng)
        pairs = {}
        for party in parties:
            pairs.setdefault(party.case_id, []).append(party)
        Misregistration.objects.bulk_create(
            [
                Misregistration(
                    case=case,
                    source=pairs[case.pk][1],
                    target=pairs[case.pk][0],
                    data_kind=DataKind.CASHLESS_ACCOUNT,
                    paid_through=True,
                )
                for case in cases
            ]
        )
        TimelineEvent.objects.bulk_create(
            [event for case in cases for event in _timeline(case, rng)], batch_size=5000
        )
        entries = [e for case in cases for e in _ledger(case, *pairs[case.pk], rng)]
        LedgerEntry.objects.bulk_create(entries, batch_size=5000)
        _totals(entries)
        contacts = AgencyContact.objects.bulk_create(
            [
                AgencyContact(
                    case=case,
                    municipality_id=case.municipality_id,
                    made_by="municipality",
                    contacted_on=case.discovered_on + timedelta(days=1),
                    channel=Channel.PHONE,
                    request="口座の状況を照会。",
                    answered_on=(
                        None
                        if case.stage == Stage.AGENCY_CONTACT and case.pk % 3 == 0
                        else case.discovered_on + timedelta(days=5)
                    ),
                    answer="回答あり",
                    created_by=case.created_by,
                )
                for case in cases
            ]
        )
        through.objects.bulk_create(
            [through(agencycontact_id=c.pk, agency_id=world.agency.pk) for c in contacts]
        )
        # What the services keep (cases.deadlines.refresh_waits): one request per case.
        for case, contact in zip(cases, contacts, strict=True):
            case.waits_until = contact.answered_on or STILL_WAITING
            case.waiting_since = None if contact.answered_on else contact.contacted_on
        Case.objects.bulk_update(cases, ["waits_until", "waiting_since"], batch_size=5000)
    # The per-municipality totals are sums of the per-case ones: one GROUP BY at the end.
    rebuild_city_totals()


def seeded() -> int:
    """How many synthetic cases the database holds already (0 when it is new)."""
    from django.db import connection

    if "cases_case" not in connection.introspection.table_names():
        return 0
    return Case.objects.filter(reference__contains="-B-").count()


def big_case_of(world: World) -> Case:
    """The case big_case made, in a database an earlier run seeded."""
    return Case.objects.get(reference=f"{world.home.code}-BIG-0001")


def big_case(world: World, *, parties: int = 20, entries: int = 200) -> Case:
    """The case page's worst case: 20 parties and 200 timeline entries."""
    rng = random.Random(20)  # noqa: S311  # synthetic data, not security
    (case,) = _case_rows(world, 0, 1, rng)
    Case.objects.filter(pk=case.pk).update(reference=f"{world.home.code}-BIG-0001")
    case.reference = f"{world.home.code}-BIG-0001"
    people = _parties([case], rng, per_case=parties)
    TimelineEvent.objects.bulk_create(list(_timeline(case, rng, entries=entries)))
    entries = list(_ledger(case, people[0], people[1], rng))
    LedgerEntry.objects.bulk_create(entries)
    _totals(entries)
    rebuild_city_totals()
    return case
