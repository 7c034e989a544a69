"""返還請求書: a polite request to a person who still holds money given to them by mistake.

The person did nothing wrong; the letter says so, apologises, and asks: the amount, the due
date, and how to pay (the municipality's designated account, or a payment slip), all from
the municipality's settings. The reminder (督促, remedies/documents/reminder.py) is its own
numbered letter citing this one.

When the person agreed a repayment plan (remedies/plans.py), its instalments still to be
paid go into the data as `instalments` ({"number", "on", "amount"}), and the letter names
the schedule under 記: the due date is each instalment's own.
"""

from datetime import date, timedelta

from reportlab.lib.units import mm

from cases.models import Case, DataKind, Municipality, Party
from cases.services import today

from .. import plans
from .apology import honorific
from .base import DocumentRenderer, kin, yen
from .data import party_role
from .settlement import excess_data

# What happened, told to the person who received what was meant for someone else (the
# source of a link: their account was registered into the other person's record).
WHAT_HAPPENED = {
    DataKind.CASHLESS_ACCOUNT: "別の方のマイナポイントのお申込みの際、誤って{name}のキャッシュ"
    "レス決済サービスを登録したため、本来その方に付与されるべき{amount}相当のポイントが、"
    "{name}に重ねて付与されておりました。",
    DataKind.BANK_ACCOUNT: "別の方のマイナポータルから公金受取口座を登録する際、誤って{name}"
    "名義の口座情報を登録したため、本来その方に給付されるべき{amount}が、{name}名義の口座に"
    "振り込まれておりました。",
}
WHAT_HAPPENED_OTHER = (
    "{name}に関わる手続きにおいて事務処理の誤りがあり、本来別の方にお渡しすべき{amount}が、"
    "誤って{name}に渡っておりました。"
)
REASON = {
    DataKind.CASHLESS_ACCOUNT: (
        "事務処理の誤りにより、別の方に付与されるべきポイントが重ねて付与されたため"
    ),
    DataKind.BANK_ACCOUNT: "事務処理の誤りにより、別の方への給付金等が振り込まれたため",
}
REASON_OTHER = "事務処理の誤りにより、別の方にお渡しすべき金額が渡ったため"


def payment_data(municipality: Municipality) -> dict:
    """How to pay, from the municipality's settings."""
    return {
        "by_slip": municipality.payment_by_slip,
        "bank": municipality.payment_bank,
        "account_type": municipality.payment_account_type,
        "account_number": municipality.payment_account_number,
        "account_holder": municipality.payment_account_holder,
        "days": municipality.repayment_days,
    }


def due_date(dated: date, days: int) -> date:
    return dated + timedelta(days=days or 30)


def schedule_data(party: Party, dated: date | None) -> tuple[list[dict], dict | None]:
    """The person's plan in force, as the letter names it: the instalments still to be paid
    (what is left of each) and, for a reminder, those missed by the document's date."""
    state = plans.party_plan_state(party, dated or today())
    if state is None:
        return [], None
    open_rows = [
        {"number": s.number, "on": s.due_on.isoformat(), "amount": s.unpaid}
        for s in state.instalments
        if s.unpaid
    ]
    plan = {
        "agreed_on": state.plan.agreed_on.isoformat(),
        "total": state.plan.total,
        "missed": [
            {
                "number": s.number,
                "on": s.due_on.isoformat(),
                "amount": s.unpaid,
                "days_late": s.days_late,
            }
            for s in state.overdue
        ],
    }
    return open_rows, plan


def build(
    *, case: Case, party: Party, municipality: Municipality, dated: date | None = None, **_kw
) -> dict:
    instalments, plan = schedule_data(party, dated)
    return {
        "case": {
            "reference": case.reference,
            "kind": case.kind,
            "office": case.office.name,
            "contractor": case.contractor.name if case.contractor else "",
        },
        "party": {
            "label": party.label,
            "name": party.name,
            "address": party.address,
            # Only the links through which something reached this person.
            "roles": [r for r in party_role(party) if r["side"] == "source"],
        },
        "money": excess_data(party, case, municipality),
        "payment": payment_data(municipality),
        # Filled from the person's repayment plan in force (remedies/plans.py), if any.
        "instalments": instalments,
        "plan": plan,
    }


class Renderer(DocumentRenderer):
    TITLE = "返還請求書"
    ONE_PAGE = True
    SUBJECT = "誤って付与された金額のご返還について（お願い）"

    @property
    def name(self) -> str:
        return honorific(self.data["party"])

    @property
    def data_kind(self) -> str:
        roles = self.data["party"]["roles"]
        return roles[0]["data_kind"] if roles else DataKind.OTHER

    def due(self) -> str:
        """The due date: the one frozen with the data, or the date of issue plus the
        municipality's number of days."""
        if self.data.get("instalments"):
            return "各回の期限"
        if self.data.get("due_on"):
            return self.date(self.data["due_on"])
        dated = date.fromisoformat(self.data["dated"]) if self.data.get("dated") else date.today()
        return self.date(due_date(dated, self.data["payment"]["days"]).isoformat())

    def what_happened(self) -> str:
        sentence = WHAT_HAPPENED.get(self.data_kind, WHAT_HAPPENED_OTHER)
        return sentence.format(amount=yen(self.data["money"]["granted"]), name=self.name)

    def head(self) -> list:
        return [
            *self.number_block(),
            *self.address_block(self.data["party"]),
            *self.sender_block(seal_note=True),
            self.t(self.SUBJECT, "title"),
        ]

    def body(self) -> list[str]:
        desk = self.data["case"]["office"]
        return [
            f"このたびは、{desk}において、{self.what_happened()}",
            f"これは{self.words.self_ref}の窓口における事務処理の誤りによるもので、{self.name}に"
            f"責任があるものではございません。{self.name}には多大なご迷惑をおかけしております"
            "ことを、心より深くお詫び申し上げます。",
            "つきましては、誠にお手数をおかけいたしますが、下記のとおりご返還くださいますよう"
            "お願い申し上げます。",
        ]

    def story(self) -> list:
        story = self.head()
        story += [self.t("拝啓")] + [self.t(line, "indent") for line in self.body()]
        story += [self.t("敬具", "right"), self.t("記", "center"), *self.particulars()]
        story += [self.t("以上", "right"), self.spacer(2), *self.citizen_contact_block()]
        story += [
            self.spacer(2),
            self.t(
                f"※{self.callers()}が、お電話等でキャッシュカードや暗証番号をお尋ねする"
                "ことはありません。",
                "small",
            ),
        ]
        return story

    def callers(self) -> str:
        """Who might call the person: the issuer's staff, and the contractor if one ran
        the desk."""
        contractor = "や委託事業者" if self.data["case"].get("contractor") else ""
        return f"{self.words.staff}{contractor}"

    def particulars(self) -> list:
        money = self.data["money"]
        items = [
            self.t(f"1　ご返還をお願いする金額　　{kin(money['remaining'])}", "heading"),
            *self.breakdown(),
            self.t(
                f"2　ご返還の理由　　{REASON.get(self.data_kind, REASON_OTHER)}",
                "heading",
            ),
            *self.due_items(),
            self.t("4　返還方法", "heading"),
            *[self.t(line, "indent") for line in self.how_to_pay()],
        ]
        return items

    def due_items(self) -> list:
        """Item 3: the due date, or with a plan the schedule agreed (each instalment's own
        due date), in a table right under it."""
        plan = self.data.get("plan")
        if not (plan and self.data.get("instalments")):
            return [self.t(f"3　返還期限　　{self.due()}", "heading")]
        return [
            self.t(
                f"3　返還期限　　分割によるご返還（{self.date(plan['agreed_on'])}にお約束いただいた"
                "日程）",
                "heading",
            ),
            self.instalment_table(),
        ]

    def how_to_pay(self) -> list[str]:
        pay = self.data["payment"]
        if pay["by_slip"] or not pay["account_number"]:
            return [
                "同封の納付書により、返還期限までに、納付書裏面の金融機関の窓口でお納めください。"
            ]
        # The case number on a line of its own: in the sentence, its opening bracket was
        # left alone at the end of a line.
        return [
            "下記の口座に、返還期限までにお振込みください。振込名義には、お名前の前に下記の"
            "案件番号を付してください。",
            f"振込先　{pay['bank']}　{pay['account_type']}　{pay['account_number']}",
            f"口座名義　{pay['account_holder']}",
            f"案件番号　{self.data['case']['reference']}",
        ]

    def instalment_table(self):
        return self.schedule_table(
            ["回", "期限", "金額"],
            [
                [f"第{row.get('number', i)}回", self.date(row["on"]), kin(row["amount"])]
                for i, row in enumerate(self.data["instalments"], start=1)
            ],
        )

    def schedule_table(self, header: list[str], rows: list[list[str]]):
        """Instalments two to a line (第1回 … | 第2回 …), read across then down, so that a
        schedule of a year still leaves the letter on one page."""
        if len(rows) == 1:
            return self.table([header, *rows], [18 * mm, 46 * mm, 38 * mm])
        lines = [header + header]
        for i in range(0, len(rows), 2):
            right = rows[i + 1] if i + 1 < len(rows) else ["", "", ""]
            lines.append(rows[i] + right)
        return self.table(lines, [15 * mm, 38 * mm, 28 * mm] * 2)

    def breakdown(self) -> list:
        """The sum behind the amount, where part was already taken back by the national
        system (国による是正), returned or written off."""
        money = self.data["money"]
        withdrawn = money.get("withdrawn", 0)
        if not (withdrawn or money["returned"] or money["written_off"]):
            return []
        rows = [["誤って付与された額", yen(money["granted"])]]
        if withdrawn:
            rows.append(["国による是正で取り消された額", yen(withdrawn)])
        if money["returned"]:
            rows.append(["ご返還いただいた額", yen(money["returned"])])
        if money["written_off"]:
            rows.append(["ご返還を要しないこととした額", yen(money["written_off"])])
        rows.append(["ご返還をお願いする額", yen(money["remaining"])])
        return [self.table(rows, [70 * mm, 40 * mm], header=False)]
