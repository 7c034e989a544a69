"""精算・返還確認書: what a person who was given too much has returned, and what remains,
confirmed in writing by the person and by whoever collected it.

Where the money was collected at a joint check (三者確認: the person, city staff and the
contractor looking at the points account together), all three confirm.
"""

from django.utils import translation
from reportlab.lib.units import mm

from cases.models import Case, Municipality, Party

from ..models import EntryKind, LedgerEntry, Method, Purpose, Side
from .base import DocumentRenderer, blank_jdate, kin, yen


def collector_name(side: str, case: Case, municipality: Municipality) -> str:
    if side == Side.CONTRACTOR:
        return case.contractor.name if case.contractor else "委託事業者"
    return municipality.name


def excess_data(party: Party, case: Case, municipality: Municipality) -> dict:
    """The money of a person who held an excess: what was given by mistake, what was
    returned (each collection, with who received it and where), written off, and left."""
    entries = list(
        LedgerEntry.objects.filter(party=party).select_related("visit").order_by("on", "id")
    )
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
    live = [e for e in entries if e.pk not in reversed_ids and e.kind != EntryKind.REVERSAL]
    granted = -sum(e.delta for e in live if e.kind == EntryKind.MISALLOCATION and e.delta < 0)
    balance = sum(e.delta for e in entries)
    with translation.override("ja"):
        collections = [
            {
                "id": e.pk,
                "on": e.on.isoformat(),
                "amount": e.delta,
                "method": e.method,
                "method_label": str(Method(e.method).label) if e.method else "",
                "side": e.side,
                "collector": collector_name(e.side, case, municipality),
                "place": e.visit.place if e.visit else "",
                "joint_check": bool(e.visit and e.visit.purpose == Purpose.JOINT_CHECK),
            }
            for e in live
            if e.kind == EntryKind.COLLECTION
        ]
    returned = sum(c["amount"] for c in collections)
    written_off = sum(e.delta for e in live if e.kind == EntryKind.WRITE_OFF and e.delta > 0)
    # Points the national system took back from the person: no return of theirs.
    withdrawn = sum(
        e.delta for e in live if e.kind == EntryKind.NATIONAL_CORRECTION and e.delta > 0
    )
    return {
        "granted": granted,
        "withdrawn": withdrawn,
        # What the person held beyond what was theirs, before anything was returned.
        "excess": max(-balance, 0) + returned + written_off,
        "collections": collections,
        "returned": returned,
        "written_off": written_off,
        "remaining": max(-balance, 0),
    }


def build(*, case: Case, party: Party, municipality: Municipality, **_kw) -> dict:
    money = excess_data(party, case, municipality)
    joint = any(c["joint_check"] for c in money["collections"])
    contractor = case.contractor.name if case.contractor else "委託事業者"
    if joint:
        confirmers = ["person", Side.MUNICIPALITY.value, Side.CONTRACTOR.value]
    else:
        sides = list(dict.fromkeys(c["side"] for c in money["collections"]))
        confirmers = ["person", *sides]
    return {
        "case": {
            "reference": case.reference,
            "kind": case.kind,
            "office": case.office.name,
            "contractor": contractor,
        },
        "party": {"label": party.label, "name": party.name, "address": party.address},
        "money": money,
        "joint_check": joint,
        "confirmers": confirmers,
    }


class Renderer(DocumentRenderer):
    TITLE = "精算・返還確認書"

    def story(self) -> list:
        case, party, money = self.data["case"], self.data["party"], self.data["money"]
        width = self.frame_width
        story = [
            *self.number_block(),
            self.spacer(4),
            self.t(self.TITLE, "title"),
            self.t(
                f"{case['office']}における事務処理の誤りにより、{party['name']}様に誤って"
                "付与された金額について、下記のとおり返還を受け、精算したことを確認します。",
                "indent",
            ),
            self.spacer(2),
            self.t("記", "center"),
            self.t("1　対象者", "heading"),
            self.t(
                f"{party['name']}　様" + (f"（{party['address']}）" if party["address"] else "")
            ),
            self.t("2　誤って付与された額と返還の状況", "heading"),
            self.table(
                [
                    ["誤って付与された額", kin(money["granted"])],
                    *(
                        [["国による是正で取り消された額", kin(money["withdrawn"])]]
                        if money.get("withdrawn")
                        else []
                    ),
                    ["返還を要する額", kin(money["excess"])],
                ],
                [60 * mm, width - 60 * mm],
                header=False,
            ),
            self.spacer(2),
            self.returns_table(),
            self.spacer(2),
            self.table(self.totals_rows(), [60 * mm, width - 60 * mm], header=False),
        ]
        if self.data["joint_check"]:
            story += [
                self.t("3　確認の方法", "heading"),
                self.t(
                    f"本人、{self.words.unit}及び委託事業者の三者で、マイナポイントの付与の"
                    "状況を確認したうえで返還を受けました。",
                    "indent",
                ),
            ]
        story += [
            self.t("以上", "right"),
            self.spacer(2),
            self.t("上記の内容に相違ないことを確認します。"),
            self.t(blank_jdate(self.data.get("dated"))),
            *self.confirmation_lines(),
        ]
        return story

    def returns_table(self):
        money = self.data["money"]
        width = self.frame_width
        rows = [["返還日", "返還額", "返還方法", "受領者", "場所"]]
        for c in money["collections"]:
            place = c["place"] + ("\n（三者確認）" if c["joint_check"] else "")
            rows.append(
                [self.date(c["on"]), yen(c["amount"]), c["method_label"], c["collector"], place]
            )
        return self.table(rows, [30 * mm, 22 * mm, 20 * mm, 38 * mm, width - 110 * mm])

    def totals_rows(self) -> list[list[str]]:
        money = self.data["money"]
        rows = [["これまでに返還された額", kin(money["returned"])]]
        if money["written_off"]:
            rows.append(["返還を要しないこととした額", kin(money["written_off"])])
        remaining = money["remaining"]
        rows.append(["返還後の残額", kin(remaining) + ("（精算済み）" if remaining == 0 else "")])
        return rows

    def confirmation_lines(self) -> list:
        """One ruled block per party who confirms: the person, the city, the contractor."""
        case, party = self.data["case"], self.data["party"]
        city = self.data.get("municipality", {}).get("name", "")
        blocks = {
            "person": [["（本人）", "住所", party["address"], ""], ["", "氏名", "", "印"]],
            Side.MUNICIPALITY: [
                [f"（{self.words.unit}）{city}", "所属", "", ""],
                ["", "氏名", "", "印"],
            ],
            Side.CONTRACTOR: [
                ["（委託事業者）", "事業者名", case["contractor"], ""],
                ["", "担当者氏名", "", "印"],
            ],
        }
        width = self.frame_width
        widths = [40 * mm, 22 * mm, width - 76 * mm, 14 * mm]
        flowables = []
        for who in self.data["confirmers"]:
            if flowables:
                flowables.append(self.spacer(2))
            flowables.append(self.ruled(blocks[who], widths, height_mm=10, label_cols=2))
        return flowables
