"""督促: a reminder to a person who has not yet returned what a 返還請求書 asked for.

Its own numbered letter: it cites the earlier request's number and date, states what is
still owed, and gives a new due date and the same way to pay.
"""

from django.utils.translation import gettext as _

from cases.models import Case, Municipality, Party

from ..errors import RemedyError
from ..models import Document, DocumentKind, DocumentStatus
from . import repayment
from .base import kin


def earlier_request(party: Party) -> Document | None:
    """The newest issued request to this person (its newest version), here or, brought in
    by a case file, elsewhere."""
    return (
        Document.objects.filter(
            party=party,
            kind=DocumentKind.REPAYMENT_REQUEST,
            status__in=(DocumentStatus.ISSUED, DocumentStatus.ISSUED_ELSEWHERE),
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
    data["request"] = {
        "number_text": request.data["number_text"],
        "dated": request.dated.isoformat(),
    }
    return data


class Renderer(repayment.Renderer):
    TITLE = "督促状"
    SUBJECT = "誤って付与された金額のご返還について（督促）"

    def body(self) -> list[str]:
        request = self.data["request"]
        owed = kin(self.data["money"]["remaining"])
        return [
            f"{self.date(request['dated'])}付け{request['number_text']}により、{self.name}に"
            f"ご返還をお願いいたしました{owed}について、本日までにご返還を確認できておりません。",
            "誠にお手数をおかけいたしますが、下記のとおりご返還くださいますよう、重ねて"
            "お願い申し上げます。なお、この通知と行き違いにご返還いただいている場合は、"
            "ご容赦ください。",
        ]

    def particulars(self) -> list:
        items = super().particulars()
        request = self.data["request"]
        return [
            self.t(
                f"先の請求　　{self.date(request['dated'])}付け{request['number_text']}",
                "heading",
            ),
            *items,
        ]
