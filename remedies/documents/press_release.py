"""報道発表資料: the press release over one or more cases of one municipality.

Built like the city's own release (docs/reference-story.md): 報道機関各位, a title from the kinds of
error, a lead with the counts and whether anyone was harmed, 記, then 1 内容 · 2 原因 ·
3 経過 · 4 再発防止策, 【問合せ先】, and the 別紙 drawing how the data moved. People appear
by label only (A氏, B氏).
"""

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, PageBreak

from cases.models import Case, CaseKind, DataKind, Municipality

from ..errors import RemedyError
from . import data as frozen
from .base import DocumentRenderer
from .diagram import LEGEND, movement_drawing
from .report import KIND_TITLE, desk_of, keep_headings

KIND_ORDER = [CaseKind.ACCOUNT_MISREGISTRATION, CaseKind.CASHLESS_LINK, CaseKind.OTHER]

# How the lead names each kind of error (the seed's words).
LEAD = {
    CaseKind.ACCOUNT_MISREGISTRATION: (
        "マイナポータルから登録する公金受取口座に、別人の情報を登録する事務ミス"
    ),
    CaseKind.CASHLESS_LINK: "キャッシュレス決済の誤った紐づけの事務ミス",
    CaseKind.OTHER: "事務処理の誤り",
}
ATTACHMENT_TITLE = {
    CaseKind.ACCOUNT_MISREGISTRATION: "公金受取口座誤登録の動き（推定）",
    CaseKind.CASHLESS_LINK: "マイナポイント誤登録の動き（推定）",
    CaseKind.OTHER: "誤登録の動き（推定）",
}
# Whether anything went where it should not, per kind of data: (nothing paid through it,
# paid but every balance settled, paid and not yet settled).
HARM = {
    DataKind.CASHLESS_ACCOUNT: (
        "マイナポイントの誤った付与は行われておらず",
        "マイナポイントは正しいポイント分がお渡しできており",
        "マイナポイントの一部が正しい方に付与されていない状態であり",
    ),
    DataKind.BANK_ACCOUNT: (
        "当該「公金受取口座」を用いた給付金等の交付は行われておらず",
        "誤って交付された給付金等は精算済みであり",
        "誤った口座に給付金等が交付されている状態であり",
    ),
}
# Settled points put right by the national system (国による是正), not handed over by
# anyone: alone, or beside cases where the amount was handed over.
POINTS_CORRECTED = "マイナポイントは国のマイナポイントの仕組みにより正しく付与されており"
POINTS_HANDED_OR_CORRECTED = (
    "マイナポイントは正しいポイント分をお渡しし、又は国のマイナポイントの仕組みにより"
    "正しく付与されており"
)
# Everyone owed was made whole, but a person given too much has not returned all of it.
RETURN_OPEN = "、誤って多く付与された方からの返還を受けている状況であり"
NO_HARM = "今回の事務ミスによる実害はありません。"
STILL_OPEN = "現在、正しい状態となるよう対応を進めています。"


def build(*, cases: list[Case], municipality: Municipality, **_kw) -> dict:
    # Checked here as well as when issuing: a preview must not show another city's case.
    if any(c.municipality_id != municipality.pk for c in cases):
        raise RemedyError(_("All cases must belong to one municipality."), field="cases")
    ordered = sorted(cases, key=lambda c: (KIND_ORDER.index(c.kind), c.discovered_on, c.pk))
    with translation.override("ja"):
        return {
            "cases": [{**frozen.case_data(c), "people": frozen.masked_parties(c)} for c in ordered]
        }


def circled(n: int) -> str:
    return chr(0x2460 + n - 1) if 1 <= n <= 20 else f"({n})"


def by_kind(cases: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for case in cases:
        groups.setdefault(case["kind"], []).append(case)
    return list(groups.items())


def settled(case: dict) -> bool:
    return all(p["balance"] == 0 for p in case["people"])


def harm_sentence(cases: list[dict]) -> str:
    clauses, harmed = [], False
    for data_kind in (DataKind.CASHLESS_ACCOUNT, DataKind.BANK_ACCOUNT):
        involved = [c for c in cases if any(lk["data_kind"] == data_kind for lk in c["links"])]
        if not involved:
            continue
        paid = any(lk["paid_through"] for c in involved for lk in c["links"])
        open_ = not all(settled(c) for c in involved)
        none, done, pending = HARM[data_kind]
        if paid and data_kind == DataKind.CASHLESS_ACCOUNT:
            owed_open = any(p["balance"] > 0 for c in involved for p in c["people"])
            if not owed_open:
                # Everyone owed has their points; what may remain is a holder's return.
                done = points_settled(involved) + (RETURN_OPEN if open_ else "")
                open_ = False
        clauses.append(pending if paid and open_ else done if paid else none)
        harmed |= paid and open_
    harmed |= not all(settled(c) for c in cases)
    ending = STILL_OPEN if harmed else NO_HARM
    if not clauses:
        return f"なお、{ending}"
    return "なお、" + "、また".join(clauses) + "、" + ending


def points_settled(cases: list[dict]) -> str:
    """How the people owed points were made whole, over every settled case: handed the
    amount, put right by the national system, or some one way and some the other."""
    owed = [p for c in cases for p in c["people"] if p.get("restored") or p.get("paid")]
    corrected = any(p.get("restored") for p in owed)
    handed = any(p.get("paid") for p in owed)
    if corrected and handed:
        return POINTS_HANDED_OR_CORRECTED
    return POINTS_CORRECTED if corrected else HARM[DataKind.CASHLESS_ACCOUNT][1]


def outcome(case: dict) -> str:
    """The short paragraph over a case's 経過: who was apologised to, what was put right."""
    people = {p["label"]: p for p in case["people"]}
    sentences = []
    for link in case["links"]:
        target, source = people[link["target"]], people[link["source"]]
        bank = link["data_kind"] == DataKind.BANK_ACCOUNT
        what = "の口座情報" if bank else "のキャッシュレス決済"
        towards = "に謝罪し、" if target["apologised"] else "について、"
        if not link["paid_through"]:
            done = (
                f"正しい{'口座情報' if bank else 'キャッシュレス決済'}を改めて登録した。"
                if link["corrected_on"]
                else "登録内容の訂正に向けて対応している。"
            )
        elif target["balance"] > 0:
            done = f"正しい{'金額' if bank else 'ポイント分の金額'}をお渡しできるよう対応している。"
        elif target.get("restored") and not target["paid"]:
            # Nobody handed anything over: the national system put the points right.
            done = "国のマイナポイントの仕組みにより、正しいポイントが付与された。"
        elif target.get("restored"):
            # Part put right by the national system, the rest handed over.
            done = (
                "国のマイナポイントの仕組みにより一部のポイントが付与され、残りのポイント分の"
                "金額をお渡しした。"
            )
        else:
            done = f"正しい{'金額' if bank else 'ポイント分の金額'}をお渡しした。"
        sentences.append(f"別人（{source['label']}）{what}が登録された方（{target['label']}）")
        sentences[-1] += towards + done
        own = "自分名義の口座" if bank else "自分のキャッシュレス決済"
        whose = f"{own}が登録された方（{source['label']}）"
        if not source["identified"]:
            note = f"（{source['note']}）" if source["note"] else ""
            sentences.append(f"他方で、{whose}は特定に至っていない{note}。")
        elif source.get("withdrawn"):
            sentences.append(withdrawn_sentence(source, whose))
        elif source["apologised"] and source["collected"]:
            part = "の一部" if source["balance"] < 0 else ""
            sentences.append(f"{whose}にも謝罪し、誤って多く付与された金額{part}を返還いただいた。")
        elif source["apologised"]:
            sentences.append(f"{whose}にも謝罪した。")
        elif source["balance"] < 0:
            sentences.append(f"{whose}に誤って付与された金額の返還について調整している。")
    if case["links"]:
        sentences.append(
            "この事務ミスによる実害はない。" if settled(case) else "引き続き対応を進めている。"
        )
    return "".join(dict.fromkeys(sentences))


def withdrawn_sentence(source: dict, whose: str) -> str:
    """The person who held the points, when the national system took them back: all of
    them, or part with the rest returned or still to be returned."""
    taken = "国のマイナポイントの仕組みにより取り消された。"
    if source["collected"]:
        taken = "国のマイナポイントの仕組みにより一部が取り消され、残りの金額を返還いただいた。"
    elif source["balance"] < 0:
        taken = (
            "国のマイナポイントの仕組みにより一部が取り消され、残りの金額の返還について"
            "調整している。"
        )
    if source["apologised"]:
        return f"{whose}にも謝罪した。誤って付与されたポイントは、{taken}"
    return f"{whose}に誤って付与されたポイントは、{taken}"


class Renderer(DocumentRenderer):
    TITLE = "報道発表資料"

    def _styles(self) -> dict[str, ParagraphStyle]:
        styles = keep_headings(super()._styles())
        # ・ hangs in the margin so that a wrapped measure lines up under its first word.
        styles["item"] = ParagraphStyle(
            "item",
            parent=styles["body"],
            leftIndent=self.BODY_SIZE * 2,
            firstLineIndent=-self.BODY_SIZE,
        )
        return styles

    def story(self) -> list:
        cases = self.data["cases"]
        groups = by_kind(cases)
        m = self.data["municipality"]
        story = [
            *self.number_block(),
            self.t("報道機関各位"),
            self.t(f"{m['name']}{m['department']}", "right"),
            self.t(self.title(groups), "title"),
            *[self.t(line, "indent") for line in self.lead(groups)],
            self.t("記", "center"),
            self.t("1　内容", "heading"),
        ]
        for heading, items in self.numbered(groups):
            story += heading
            for mark, case in items:
                story.append(self.t(mark + (case["summary"] or case["discovery"]), "indent"))
        story += [self.t("2　原因", "heading"), *self.causes(groups)]
        story.append(self.t("3　経過", "heading"))
        for heading, items in self.numbered(groups):
            story += heading
            for mark, case in items:
                if mark:
                    story.append(self.t(f"{mark}{case['office']}の事案", "heading"))
                published = [e for e in case["timeline"] if e.get("public", True)]
                story += [self.t(outcome(case), "indent"), self.timeline_table(published)]
        story += [self.t("4　再発防止策", "heading"), *self.prevention(cases)]
        story += [self.spacer(4), self.t("以上", "right"), self.spacer(4), *self.contact_block()]
        story += self.attachments(groups)
        return story

    # ---- parts -------------------------------------------------------------------------

    def desk(self) -> str:
        desks = {desk_of(c["office"]) for c in self.data["cases"]}
        return desks.pop() if len(desks) == 1 else "支援窓口"

    def title(self, groups: list) -> str:
        more = "等" if len(groups) > 1 else ""
        return f"{self.desk()}における{KIND_TITLE[groups[0][0]]}{more}について"

    def lead(self, groups: list) -> list[str]:
        # Counted by what happened: each link (one person's data in another's record) is
        # one error, so a case with four links at one desk is 4件.
        errors = "と、".join(
            LEAD[kind]
            + (f"{n}件" if (n := sum(max(len(c["links"]), 1) for c in items)) > 1 else "")
            for kind, items in groups
        )
        return [
            f"{self.words.self_ref}が設置している{self.desk()}において、{errors}がありました。",
            harm_sentence(self.data["cases"]),
        ]

    def numbered(self, groups: list) -> list[tuple[list, list[tuple[str, dict]]]]:
        """(1)(2)… per kind where there is more than one kind, ①② per case within a kind
        where it has more than one, as the seed numbers them."""
        out = []
        for n, (kind, items) in enumerate(groups, start=1):
            heading = [self.t(f"（{n}）{KIND_TITLE[kind]}", "heading")] if len(groups) > 1 else []
            marks = [circled(i) if len(items) > 1 else "" for i in range(1, len(items) + 1)]
            out.append((heading, list(zip(marks, items, strict=True))))
        return out

    def causes(self, groups: list) -> list:
        cases = self.data["cases"]
        see = "（別紙参照）" if any(c["links"] for c in cases) else ""
        texts = [c["cause"] or c["cause_label"] or "調査中" for c in cases]
        if len(set(texts)) == 1:
            same = [self.t("原因については、全件同じ。", "indent")] if len(cases) > 1 else []
            return [*same, self.t(texts[0] + see, "indent")]
        out = []
        for heading, items in self.numbered(groups):
            out += heading
            out += [
                self.t(f"{mark}{c['cause'] or c['cause_label'] or '調査中'}", "indent")
                for mark, c in items
            ]
        return [*out, self.t(see, "indent")] if see else out

    def prevention(self, cases: list[dict]) -> list:
        # The same measure taken after several cases is printed once.
        lines = list(
            dict.fromkeys(
                ln.strip() for c in cases for ln in c["prevention"].splitlines() if ln.strip()
            )
        )
        if not lines:
            return [self.t("検討中", "indent")]
        lead = (
            "再発防止に向け、以下の運用の徹底を指導"
            if any(c["contractor"] for c in cases)
            else "再発防止に向け、以下の対策を徹底する。"
        )
        return [self.t(lead, "indent"), *[self.t(f"・{ln.lstrip('・')}", "item") for ln in lines]]

    def timeline_table(self, timeline: list[dict]):
        if not timeline:
            return self.t("記録なし", "indent")
        dates = self.story_dates([e["on"] for e in timeline])
        rows = [[d, e["text"]] for d, e in zip(dates, timeline, strict=True)]
        return self.table(rows, [34 * mm, self.frame_width - 34 * mm], header=False)

    def attachments(self, groups: list) -> list:
        """別紙: one drawing per case, under the title of its kind, as the seed attaches."""
        if not any(c["links"] for c in self.data["cases"]):
            return []
        story: list = [PageBreak(), self.t("別紙", "right")]
        for kind, items in groups:
            story.append(self.t(ATTACHMENT_TITLE[kind], "title"))
            for i, case in enumerate(items, start=1):
                if not case["links"]:
                    continue
                caption = f"{circled(i)}{case['office']}の事案" if len(items) > 1 else ""
                unidentified = {p["label"] for p in case["people"] if not p["identified"]}
                drawing = movement_drawing(
                    case["links"],
                    width=self.frame_width,
                    fonts=self.fonts,
                    unidentified=unidentified,
                )
                block = [self.t(caption, "heading")] if caption else []
                story += [KeepTogether([*block, drawing]), self.spacer(6)]
        story.append(self.t(LEGEND, "small"))
        return story
