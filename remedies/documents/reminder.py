"""督促: a reminder to a person who has not yet returned what a 返還請求書 asked for.

Its own numbered letter: it cites the earlier request's number and date, states what is
still owed, and gives a new due date and the same way to pay. When the person agreed a
repayment plan (remedies/plans.py), the reminder is about the instalments missed by the
document's date: it names each (number, due date, what is unpaid), asks for their sum by
the new due date, and lists the instalments still to come as agreed. With a plan in force
and nothing missed there is nothing to remind of.
"""

from django.utils.translation import gettext as _

from cases.deadlines import BusinessCalendar
from cases.models import Case, Municipality, Party
from cases.services import today

from .. import plans
from ..errors import RemedyError
from ..models import Document, DocumentKind, DocumentStatus
from . import repayment
from .base import kin


def earlier_request(party: Party) -> Document | None:
    """The newest issued request to this person (its newest version)."""
    return (
        Document.objects.filter(
            party=party, kind=DocumentKind.REPAYMENT_REQUEST, status=DocumentStatus.ISSUED
        )
        .order_by("-dated", "-id")
        .first()
    )


def build(*, case: Case, party: Party, municipality: Municipality, **kw) -> dict:
    request = earlier_request(party)
    if request is None:
        raise RemedyError(
            _("No repayment request has been issued to %(party)s yet.") % {"party": party.label},
            field="party",
        )
    data = repayment.build(case=case, party=party, municipality=municipality, **kw)
    if data["plan"] is not None and not data["plan"]["missed"]:
        raise RemedyError(
            _("No instalment of %(party)s's repayment plan is overdue.") % {"party": party.label},
            field="party",
        )
    if data["plan"] is not None:
        # The new due date for the missed instalments: the municipality's number of days
        # from the letter's date, moved off a closed day (as a 納期限 is).
        dated = kw.get("dated") or today()
        calendar = BusinessCalendar.for_municipality(municipality)
        due = repayment.due_date(dated, data["payment"]["days"])
        data["due_on"] = plans.effective_due(calendar, due).isoformat()
    data["request"] = {
        "number_text": request.data["number_text"],
        "dated": request.dated.isoformat(),
    }
    return data


class Renderer(repayment.Renderer):
    TITLE = "督促状"
    SUBJECT = "誤って付与された金額のご返還について（督促）"

    @property
    def missed(self) -> list[dict]:
        plan = self.data.get("plan") or {}
        return plan.get("missed") or []

    def due(self) -> str:
        # The new due date: the date of this letter plus the municipality's days, whatever
        # the schedule said.
        if not self.missed:
            return super().due()
        return self.date(self.data["due_on"])

    def body(self) -> list[str]:
        request = self.data["request"]
        cited = f"{self.date(request['dated'])}付け{request['number_text']}により"
        if self.missed:
            owed = kin(sum(row["amount"] for row in self.missed))
            numbers = "・".join(f"第{row['number']}回" for row in self.missed)
            first = (
                f"{cited}ご返還をお願いし、{self.date(self.data['plan']['agreed_on'])}に分割による"
                f"ご返還をお約束いただきました金額のうち、{numbers}分（{owed}）について、"
                "納期限を過ぎても、本日までにご返還を確認できておりません。"
            )
        else:
            owed = kin(self.data["money"]["remaining"])
            first = (
                f"{cited}、{self.name}にご返還をお願いいたしました{owed}について、本日までに"
                "ご返還を確認できておりません。"
            )
        return [
            first,
            "誠にお手数をおかけいたしますが、下記のとおりご返還くださいますよう、重ねて"
            "お願い申し上げます。なお、この通知と行き違いにご返還いただいている場合は、"
            "ご容赦ください。",
        ]

    def particulars(self) -> list:
        request = self.data["request"]
        cited = self.t(
            f"先の請求　　{self.date(request['dated'])}付け{request['number_text']}", "heading"
        )
        if not self.missed:
            return [cited, *super().particulars()]
        owed = sum(row["amount"] for row in self.missed)
        reason = repayment.REASON.get(self.data_kind, repayment.REASON_OTHER)
        items = [
            cited,
            *self.owed_items(owed),
            self.t(f"2　ご返還の理由　　{reason}", "heading"),
            self.t(f"3　返還期限　　{self.due()}", "heading"),
            self.t("4　返還方法", "heading"),
            *[self.t(line, "indent") for line in self.how_to_pay()],
        ]
        missed = {row["number"] for row in self.missed}
        later = [row for row in self.data["instalments"] if row.get("number") not in missed]
        if later:
            items += [
                self.t("5　次回以降のご返還　　お約束いただいた日程のとおり", "heading"),
                self.schedule_table(
                    ["回", "期限", "金額"],
                    [[f"第{r['number']}回", self.date(r["on"]), kin(r["amount"])] for r in later],
                ),
            ]
        return items

    def owed_items(self, owed: int) -> list:
        """Item 1: what is asked now. One missed instalment is named on the line itself;
        several are listed in a table under it."""
        if len(self.missed) == 1:
            (row,) = self.missed
            return [
                self.t(
                    f"1　ご返還をお願いする金額　　{kin(owed)}（第{row['number']}回分、当初の期限"
                    f"　{self.date(row['on'])}）",
                    "heading",
                )
            ]
        return [self.t(f"1　ご返還をお願いする金額　　{kin(owed)}", "heading"), self.missed_table()]

    def missed_table(self):
        return self.schedule_table(
            ["回", "当初の期限", "未納額"],
            [[f"第{r['number']}回", self.date(r["on"]), kin(r["amount"])] for r in self.missed],
        )
