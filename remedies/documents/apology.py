"""お詫び状: an apology letter to one person, worded for what happened to that person."""

from cases.models import Case, DataKind, Party

from . import data as frozen
from .base import DocumentRenderer, yen

# What happened, from this person's side of a link (DESIGN: source's data went into the
# target's record; what was meant for the target flowed to the source).
WHAT_HAPPENED = {
    (
        DataKind.BANK_ACCOUNT,
        "target",
    ): "あなた様のマイナポータルから公金受取口座を登録する際、本来あなた様名義の口座を登録"
    "すべきところ、誤って別の方の口座情報を登録する事務処理の誤りがありました。",
    (
        DataKind.BANK_ACCOUNT,
        "source",
    ): "別の方のマイナポータルから公金受取口座を登録する際、誤ってあなた様名義の口座情報を"
    "登録する事務処理の誤りがありました。",
    (
        DataKind.CASHLESS_ACCOUNT,
        "target",
    ): "あなた様のマイナポイントの申込みの際、誤って別の方のキャッシュレス決済サービスを登録"
    "する事務処理の誤りがあり、あなた様に付与されるべきポイントが別の方に付与されて"
    "おりました。",
    (
        DataKind.CASHLESS_ACCOUNT,
        "source",
    ): "別の方のマイナポイントの申込みの際、誤ってあなた様のキャッシュレス決済サービスを登録"
    "する事務処理の誤りがあり、本来別の方に付与されるべきポイントがあなた様に付与されて"
    "おりました。",
}
SOMETHING_HAPPENED = "あなた様に関わる手続きにおいて、事務処理の誤りがありました。"


def build(*, case: Case, party: Party, **_) -> dict:
    return {
        "case": frozen.case_data(case),
        "party": frozen.party_data(party),
    }


def read_ahead(targets: list[tuple[Case, Party]]) -> None:
    """Letters in bulk: the next batch's cases and people read at once, not one by one."""
    frozen.read_cases([case for case, _ in targets])
    frozen.read_parties([party for _, party in targets])


def what_happened(party: dict) -> list[str]:
    sentences = [
        WHAT_HAPPENED.get((r["data_kind"], r["side"]), SOMETHING_HAPPENED) for r in party["roles"]
    ]
    if not sentences:
        sentences = [SOMETHING_HAPPENED]
    if any(
        r["data_kind"] == DataKind.BANK_ACCOUNT and not r["paid_through"] for r in party["roles"]
    ):
        sentences.append(
            "なお、当該口座を用いた給付金等の交付は行われておらず、金銭面での実害はございません。"
        )
    return list(dict.fromkeys(sentences))


def what_was_done(party: dict, renderer: DocumentRenderer) -> list[str]:
    money = party["money"]
    done = []
    if money["paid"] > 0:
        done.append(
            f"あなた様に付与されるべきであった{yen(money['paid'])}相当額をお渡しいたしました。"
        )
    for c in money["collections"]:
        done.append(
            f"誤って付与された{yen(c['amount'])}について、{renderer.date(c['on'])}に"
            "ご返還いただきました。ご協力に厚く御礼申し上げます。"
        )
    if money["balance"] > 0:
        done.append(
            f"あなた様にお渡しすべき{yen(money['balance'])}については、"
            "改めてご連絡のうえ対応させていただきます。"
        )
    elif money["balance"] < 0 and not money["written_off"]:
        done.append(
            f"誤って付与された{yen(-money['balance'])}のご返還について、"
            "改めてご相談させていただきます。"
        )
    if not done:
        done.append("誤って登録された内容は、判明後速やかに正しい内容に訂正いたしました。")
    return done


class Renderer(DocumentRenderer):
    TITLE = "お詫び状"

    def story(self) -> list:
        case, party = self.data["case"], self.data["party"]
        desk = case["office"]
        story = [
            *self.number_block(),
            self.spacer(6),
            self.t(f"{party['name']}　様"),
            self.spacer(4),
            *self.sender_block(),
            self.spacer(6),
            self.t(f"{desk}における事務処理の誤りについて（お詫び）", "title"),
        ]
        body = [
            "拝啓　時下ますますご清祥のこととお喜び申し上げます。",
            f"さて、このたび{desk}において、" + "".join(what_happened(party)),
            "あなた様には多大なご迷惑とご心配をおかけしましたことを、心より深くお詫び申し上げます。",
            "今後このようなことのないよう、職員及び委託事業者への指導を徹底し、"
            "再発防止に万全を期してまいります。何とぞご理解を賜りますようお願い申し上げます。",
        ]
        # 拝啓 starts at the margin; the paragraphs after it are indented.
        story += [self.t(body[0])] + [self.t(line, "indent") for line in body[1:]]
        story += [self.t("敬具", "right"), self.spacer(4), self.t("記", "center")]
        items = [
            ("1　事案の内容", "".join(what_happened(party))),
            ("2　原因", case["cause"] or case["cause_label"] or "調査中"),
            ("3　対応", "".join(what_was_done(party, self))),
            ("4　再発防止策", case["prevention"] or "検討中"),
        ]
        for heading, content in items:
            story += [self.t(heading, "heading"), self.t(content, "indent")]
        story += [self.t("以上", "right"), self.spacer(6), *self.contact_block()]
        return story
