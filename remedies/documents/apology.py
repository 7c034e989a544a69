"""お詫び状: an apology letter to one person, worded for what happened to that person.

Laid out as DOCUMENTS.md says a letter to a citizen reads: number and date top right, the
address block for a window envelope, the signatory (（公印省略） where not sealed), the
subject ending in （お詫び）, a です・ます body from the person's side — what happened,
the apology, what was done for this person with its date, amount and form, the prevention —
and the citizen's contact bottom right. One page; no 記, since the body says every fact.
"""

from cases.models import Case, CauseCategory, DataKind, Party

from ..models import EntryKind, Method, RepaymentPlan, Side
from . import data as frozen
from .base import DocumentRenderer, yen

# What happened, from this person's side of a link ({name}: 佐藤様). The source's data went
# into the target's record; what was meant for the target went to the source.
WHAT_HAPPENED = {
    (DataKind.BANK_ACCOUNT, "target"): (
        "{name}のマイナポータルから公金受取口座を登録する際、本来{name}名義の口座を登録"
        "すべきところ、誤って別の方の口座情報を登録しておりました。"
    ),
    (DataKind.BANK_ACCOUNT, "source"): (
        "別の方のマイナポータルから公金受取口座を登録する際、誤って{name}名義の口座情報を"
        "登録しておりました。"
    ),
    (DataKind.CASHLESS_ACCOUNT, "target"): (
        "{name}のマイナポイントのお申込みの際、誤って別の方のキャッシュレス決済サービスを"
        "登録したため、{name}に付与されるべきポイントが別の方に付与されておりました。"
    ),
    (DataKind.CASHLESS_ACCOUNT, "source"): (
        "別の方のマイナポイントのお申込みの際、誤って{name}のキャッシュレス決済サービスを"
        "登録したため、本来その方に付与されるべきポイントが{name}に付与されておりました。"
    ),
}
SOMETHING_HAPPENED = "{name}に関わる手続きにおいて、事務処理の誤りがありました。"
NOT_YOUR_FAULT = "これは窓口の事務処理の誤りによるもので、{name}に責任があるものではございません。"

# How money reached the person, by form.
HANDED = {
    Method.CASH: "現金でお渡しいたしました",
    Method.GIFT_CERTIFICATE: "同額の商品券でお渡しいたしました",
    Method.BANK_TRANSFER: "お振込みいたしました",
}


def build(*, case: Case, party: Party, **_) -> dict:
    # A letter prints no 経過, and leaving it out keeps each letter independent of the
    # others: issuing one writes the case a 経過 line (the apology, services.py).
    case_data = frozen.case_data(case, timeline=False)
    party_data = frozen.party_data(party)
    if party_data["money"]["balance"] < 0:
        # Someone who still holds an excess may have agreed a repayment plan already.
        plan = RepaymentPlan.objects.filter(party=party, superseded_on__isnull=True).first()
        party_data["plan_agreed_on"] = plan.agreed_on.isoformat() if plan else None
    return {"case": case_data, "party": party_data}


def read_ahead(targets: list[tuple[Case, Party]]) -> None:
    """Letters in bulk: the next batch's cases and people read at once, not one by one."""
    frozen.read_cases([case for case, _ in targets], timeline=False)
    frozen.read_parties([party for _, party in targets])


def honorific(party: dict) -> str:
    """佐藤様: the family name (the part before the space) with 様."""
    name = (party.get("name") or "").replace("\u3000", " ").strip()
    return f"{name.split(' ')[0]}様" if name else "ご本人様"


def what_happened(party: dict, name: str) -> list[str]:
    sentences = [
        WHAT_HAPPENED.get((r["data_kind"], r["side"]), SOMETHING_HAPPENED).format(name=name)
        for r in party["roles"]
    ] or [SOMETHING_HAPPENED.format(name=name)]
    if any(r["side"] == "source" for r in party["roles"]):
        sentences.append(NOT_YOUR_FAULT.format(name=name))
    return list(dict.fromkeys(sentences))


def what_was_done(party: dict, renderer: DocumentRenderer, *, name: str) -> list[str]:
    """Only what really happened for this person: each handing-over with its date, amount
    and form; points the national system granted again; points the national system moved
    back (restored to this person, or withdrawn from them); a return; or nothing lost."""
    case = renderer.data["case"]
    money = party["money"]
    done = []
    for p in money.get("payments", []):
        when = renderer.date(p["on"])
        if p["kind"] == EntryKind.REGRANT or p["method"] == Method.POINTS:
            done.append(
                f"{when}に、国のマイナポイントの仕組みにより、{name}に{yen(p['amount'])}分の"
                "ポイントが改めて付与されました。"
            )
            continue
        payer = (
            case["contractor"]
            if p["side"] == Side.CONTRACTOR and case["contractor"]
            else renderer.words.self_ref
        )
        how = HANDED.get(p["method"], HANDED[Method.CASH])
        done.append(
            f"{when}に、本来{name}に付与されるべきであった{yen(p['amount'])}相当分を、"
            f"{payer}から{how}。"
        )
    # The national system's correction: nothing was handed over by anyone, the points
    # themselves were put where they belong.
    for c in money.get("corrections_restored", []):
        done.append(
            f"{renderer.date(c['on'])}に、国のマイナポイントの仕組みによる是正が行われ、"
            f"別の方に誤って付与されていた{yen(c['amount'])}分のポイントが、本来付与される"
            f"べき{name}に改めて付与されました。"
        )
    for c in money.get("corrections_withdrawn", []):
        done.append(
            f"{renderer.date(c['on'])}に、国のマイナポイントの仕組みによる是正が行われ、"
            f"{name}に誤って付与されていた{yen(c['amount'])}分のポイントは取り消されました。"
        )
    if money.get("withdrawn") and money["balance"] == 0 and not money["collections"]:
        done.append(f"このため、{name}にご返還いただくものはございません。")
    for c in money["collections"]:
        done.append(
            f"誤って付与された{yen(c['amount'])}については、{renderer.date(c['on'])}に"
            "ご返還いただきました。ご協力に厚く御礼申し上げます。"
        )
    if money["balance"] > 0:
        done.append(
            f"{name}にお渡しすべき{yen(money['balance'])}については、改めてご連絡のうえ、"
            "速やかに対応させていただきます。"
        )
    elif money["balance"] < 0 and party.get("plan_agreed_on"):
        # The person already agreed how to return the rest: the letter holds to it.
        done.append(
            f"残りの{yen(-money['balance'])}については、{renderer.date(party['plan_agreed_on'])}"
            "にお約束いただいた日程により、ご返還をお願いいたします。"
        )
    elif money["balance"] < 0 and not money["written_off"]:
        done.append(
            f"誤って付与された{yen(-money['balance'])}のご返還については、改めてご相談"
            "させていただきます。"
        )
    if not done:
        corrected = [r["corrected_on"] for r in party["roles"] if r.get("corrected_on")]
        when = f"{renderer.date(max(corrected))}に" if corrected else "判明後速やかに"
        done.append(f"誤って登録された内容は、{when}正しい内容に訂正いたしました。")
        if not any(r["paid_through"] for r in party["roles"]):
            done.append(
                "誤った登録によって給付金等の交付やポイントの付与は行われておらず、"
                "金銭面での実害はございません。"
            )
    return done


def prevention(case: dict) -> list[str]:
    """The recurrence prevention in sentences: who is instructed (the contractor only where
    one ran the desk), and what is done, said in です・ます."""
    who = "職員及び委託事業者" if case["contractor"] else "職員"
    sentences = []
    if case.get("cause_category") == CauseCategory.LOGOUT_OMITTED or "ログアウト" in (
        case.get("cause") or ""
    ):
        sentences.append(
            "今後は、お一人の手続きを終えるごとに必ずログアウトして申込画面を閉じ、"
            "ご本人と支援者がともに完了を確認する手順を徹底いたします。"
        )
    sentences.append(
        f"あわせて{who}への指導を徹底し、再発防止に万全を期してまいります。"
        if sentences
        else f"今後このようなことのないよう、{who}への指導を徹底し、再発防止に万全を期して"
        "まいります。"
    )
    return sentences


class Renderer(DocumentRenderer):
    TITLE = "お詫び状"
    ONE_PAGE = True

    def story(self) -> list:
        case, party = self.data["case"], self.data["party"]
        name = honorific(party)
        desk = case["office"]
        story = [
            *self.number_block(),
            *self.address_block(party),
            *self.sender_block(seal_note=True),
            self.t(f"{desk}における事務処理の誤りについて（お詫び）", "title"),
        ]
        body = [
            f"このたびは、{desk}において、" + "".join(what_happened(party, name)),
            f"{name}には多大なご迷惑とご心配をおかけしましたことを、心より深くお詫び申し上げます。",
            "".join(what_was_done(party, self, name=name)),
            "".join(prevention(case)),
            "何とぞご理解を賜りますよう、よろしくお願い申し上げます。",
        ]
        story += [self.t("拝啓")] + [self.t(line, "indent") for line in body]
        story += [self.t("敬具", "right"), self.spacer(4), *self.citizen_contact_block()]
        return story
