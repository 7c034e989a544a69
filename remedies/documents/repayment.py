"""返還請求書: a polite request to a person who still holds money given to them by mistake.

The person did nothing wrong; the letter says so, apologises, and asks. How and by when the
money is returned is agreed with the person, so the letter leaves both to the city's own
wording (frozen with the data) rather than stating terms.
"""

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from cases.models import Case, DataKind, Municipality, Party

from .base import DocumentRenderer, kin, yen
from .data import party_role
from .settlement import excess_data

# The city's wording for how and by when; a form may one day let staff write their own.
METHOD_TEXT = "担当者からご連絡いたします。"
DEADLINE_TEXT = "担当者がご都合をお伺いしたうえで、ご相談させていただきます。"

# What happened, told to the person who received what was meant for someone else (the
# source of a link: their account was registered into the other person's record).
WHAT_HAPPENED = {
    DataKind.CASHLESS_ACCOUNT: "別の方のマイナポイントの申込みの際、誤ってあなた様のキャッシュレス"
    "決済サービスを登録する事務処理の誤りがあり、本来その方に付与されるべき{amount}相当の"
    "ポイントが、あなた様に付与されておりました。",
    DataKind.BANK_ACCOUNT: "別の方のマイナポータルから公金受取口座を登録する際、誤ってあなた様"
    "名義の口座情報を登録する事務処理の誤りがあり、本来その方に給付されるべき{amount}が、"
    "あなた様名義の口座に振り込まれておりました。",
}
WHAT_HAPPENED_OTHER = (
    "あなた様に関わる手続きにおいて事務処理の誤りがあり、本来別の方にお渡しすべき{amount}が、"
    "誤ってあなた様に渡っておりました。"
)


def build(*, case: Case, party: Party, municipality: Municipality, **_kw) -> dict:
    return {
        "case": {
            "reference": case.reference,
            "kind": case.kind,
            "office": case.office.name,
        },
        "party": {
            "label": party.label,
            "name": party.name,
            "address": party.address,
            # Only the links through which something reached this person.
            "roles": [r for r in party_role(party) if r["side"] == "source"],
        },
        "money": excess_data(party, case, municipality),
        "method_text": METHOD_TEXT,
        "deadline_text": DEADLINE_TEXT,
    }


class Renderer(DocumentRenderer):
    TITLE = "返還請求書"

    def what_happened(self) -> str:
        roles = self.data["party"]["roles"]
        kind = roles[0]["data_kind"] if roles else DataKind.OTHER
        sentence = WHAT_HAPPENED.get(kind, WHAT_HAPPENED_OTHER)
        return sentence.format(amount=yen(self.data["money"]["granted"]))

    def story(self) -> list:
        party, money = self.data["party"], self.data["money"]
        desk = self.data["case"]["office"]
        story = [*self.number_block(), self.spacer(6)]
        if party["address"]:
            story.append(self.t(party["address"]))
        story += [
            self.t(f"{party['name']}　様", "addressee"),
            self.spacer(2),
            *self.sender_block(),
            self.spacer(4),
            self.t(self.TITLE, "title"),
        ]
        body = [
            "拝啓　時下ますますご清祥のこととお喜び申し上げます。",
            f"さて、{desk}において、{self.what_happened()}",
            f"これは{self.words.self_ref}の支援窓口における事務処理の誤りによるもので、あなた様に責任があるもの"
            "ではございません。あなた様には多大なご迷惑をおかけしておりますことを、心より深く"
            "お詫び申し上げます。",
            "つきましては、誠にお手数をおかけいたしますが、下記の金額をご返還くださいますよう"
            "お願い申し上げます。ご不明な点がございましたら、下記の問合せ先までお気軽に"
            "お問い合わせください。",
        ]
        story += [self.t(line, "indent") for line in body]
        story += [self.t("敬具", "right"), self.t("記", "center")]
        story += [
            self.t(f"1　ご返還をお願いする金額　　{kin(money['remaining'])}", "heading"),
            *self.breakdown(),
            self.t("2　ご返還をお願いする理由", "heading"),
            self.t(
                "本来別の方がお受け取りになるべきものが、事務処理の誤りにより、あなた様に"
                "渡ったため。",
                "indent",
            ),
            self.t("3　返還方法・返還期限", "heading"),
            self.t(f"返還方法：{self.data['method_text']}", "indent"),
            self.t(f"返還期限：{self.data['deadline_text']}", "indent"),
            self.t("以上", "right"),
            *self.contact_block(),
            self.spacer(3),
            self.t(
                f"※{self.words.staff}や委託事業者が、お電話等でキャッシュカードや暗証番号をお尋ねすることは"
                "ありません。不審な連絡があった場合は、上記の問合せ先までご連絡ください。",
                "small",
            ),
        ]
        return story

    def breakdown(self) -> list:
        """The sum behind the amount, where part was already returned or written off."""
        money = self.data["money"]
        if not (money["returned"] or money["written_off"]):
            return []
        rows = [["誤って付与された額", yen(money["granted"])]]
        if money["returned"]:
            rows.append(["ご返還いただいた額", yen(money["returned"])])
        if money["written_off"]:
            rows.append(["ご返還を要しないこととした額", yen(money["written_off"])])
        rows.append(["ご返還をお願いする額", yen(money["remaining"])])
        return [self.table(rows, [70 * mm, 40 * mm], header=False)]

    def _styles(self) -> dict[str, ParagraphStyle]:
        styles = super()._styles()
        styles["addressee"] = ParagraphStyle(
            "addressee", parent=styles["body"], fontSize=12, leading=18
        )
        return styles
