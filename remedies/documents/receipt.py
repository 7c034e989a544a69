"""受領書: the person's receipt for one payment of compensation, made out to the payer.

A Japanese receipt is addressed to whoever paid (株式会社エイジェック 様, 北九州市長 様) and
signed by the person who received the money; the city prints it, the person signs it.
"""

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from cases.issuer import words as issuer_words
from cases.models import Case, CaseKind, Municipality
from cases.wareki import yen

from ..errors import RemedyError
from ..models import EntryKind, LedgerEntry, Method, Side
from .base import DocumentRenderer, kin

# 但し書き: what the money was for, by kind of case.
PURPOSE = {
    CaseKind.CASHLESS_LINK: "マイナポイント誤登録に係る補償として",
    CaseKind.ACCOUNT_MISREGISTRATION: "公金受取口座誤登録に係る補償として",
}
PURPOSE_OTHER = "支援窓口における事務処理誤りに係る補償として"

# What the person confirms, by how the money came.
RECEIVED = {
    Method.CASH: "上記の金額を正に受領いたしました。",
    Method.GIFT_CERTIFICATE: "上記の金額に相当する商品券を正に受領いたしました。",
    Method.BANK_TRANSFER: "上記の金額を、口座振込により正に受領いたしました。",
}


def payer_name(side: str, case: Case, municipality: Municipality) -> str:
    """To whom the receipt is made out: the contractor, or the head of the local
    government (北九州市長, 東京都知事, 〇〇町長)."""
    if side == Side.CONTRACTOR:
        return case.contractor.name if case.contractor else "委託事業者"
    return issuer_words(municipality).head


def build(*, case: Case, entry: LedgerEntry, municipality: Municipality, **_kw) -> dict:
    # services checks that the entry is a payment of this case; a payment since reversed was
    # posted by mistake, and nobody should be asked to sign for it.
    if entry.kind != EntryKind.PAYMENT:
        raise RemedyError(_("Choose the payment the receipt is for."), field="entry")
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise RemedyError(_("This entry has already been reversed."), field="entry")
    party = entry.party
    # Documents are Japanese whatever the language of the person issuing them.
    with translation.override("ja"):
        method_label = str(Method(entry.method).label) if entry.method else ""
        side_label = str(Side(entry.side).label) if entry.side else ""
        if entry.side == Side.MUNICIPALITY:
            side_label = issuer_words(municipality).unit  # 市 / 町 / 村 / 区 / 県
    return {
        "case": {"reference": case.reference, "kind": case.kind, "office": case.office.name},
        "party": {"label": party.label, "name": party.name, "address": party.address},
        "entry": {
            "id": entry.pk,
            "amount": -entry.delta,
            "on": entry.on.isoformat(),
            "method": entry.method,
            "method_label": method_label,
            "side": entry.side,
            "side_label": side_label,
        },
        "payer": payer_name(entry.side, case, municipality),
        "purpose": PURPOSE.get(case.kind, PURPOSE_OTHER),
    }


class Renderer(DocumentRenderer):
    TITLE = "受領書"

    def story(self) -> list:
        entry, party = self.data["entry"], self.data["party"]
        width = self.frame_width
        return [
            *self.number_block(),
            self.spacer(4),
            self.p("受　領　書", "big_title"),
            self.spacer(8),
            self.addressee(),
            self.spacer(10),
            self.amount(),
            self.spacer(5),
            self.t(f"但し、{self.data['purpose']}", "center"),
            self.spacer(8),
            self.t(RECEIVED.get(entry["method"], RECEIVED[Method.CASH]), "indent"),
            self.spacer(3),
            self.table(
                [
                    ["受領日", self.date(entry["on"])],
                    ["受領方法", entry["method_label"]],
                    ["支払者", self.data["payer"]],
                ],
                [30 * mm, width - 30 * mm],
                header=False,
            ),
            self.spacer(12),
            self.t("（受領者）"),
            self.ruled(
                [["住所", party["address"], ""], ["氏名", "", "印"]],
                [16 * mm, width - 30 * mm, 14 * mm],
                height_mm=13,
            ),
            self.spacer(2),
            self.t("※住所・氏名はご本人がご記入ください。自署の場合、押印は不要です。", "small"),
            self.spacer(16),
            self.office_use(),
        ]

    def addressee(self) -> Table:
        """To whom the receipt is made out, underlined, at the left as receipts write it."""
        line = Table(
            [[self.t(f"{self.data['payer']}　様", "addressee")]],
            colWidths=[self.frame_width * 0.6],
            hAlign="LEFT",
        )
        line.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.8, "#000000")]))
        return line

    def amount(self) -> Table:
        box = Table(
            [[self.p(kin(self.data["entry"]["amount"]), "amount")]],
            colWidths=[self.frame_width * 0.62],
            rowHeights=[16 * mm],
            hAlign="CENTER",
        )
        box.setStyle(
            TableStyle(
                [("BOX", (0, 0), (-1, -1), 1.2, "#000000"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
            )
        )
        return box

    def office_use(self) -> Table:
        """市記入欄 (町記入欄, 県記入欄…): what lets the issuer match the signed sheet to its
        ledger entry."""
        entry, party = self.data["entry"], self.data["party"]
        table = self.table(
            [
                [f"{self.words.unit}記入欄", ""],
                ["案件番号", self.data["case"]["reference"]],
                ["受領者", f"{party['name']}　様（{party['label']}）"],
                ["記帳番号", f"{entry['id']}（{entry['side_label']}支払・{yen(entry['amount'])}）"],
            ],
            [24 * mm, 66 * mm],
        )
        table.hAlign = "RIGHT"
        table.setStyle([("SPAN", (0, 0), (-1, 0))])
        return table

    def _styles(self) -> dict[str, ParagraphStyle]:
        styles = super()._styles()
        body = styles["body"]
        styles["big_title"] = ParagraphStyle(
            "big_title",
            parent=body,
            fontName=self.fonts.gothic,
            fontSize=20,
            leading=28,
            alignment=TA_CENTER,
        )
        styles["amount"] = ParagraphStyle(
            "amount",
            parent=body,
            fontName=self.fonts.gothic,
            fontSize=20,
            leading=26,
            alignment=TA_CENTER,
        )
        styles["addressee"] = ParagraphStyle("addressee", parent=body, fontSize=13, leading=18)
        return styles
