"""経過報告書: the case report — what happened, to whom (by label only), why, the 経過,
where the money stands, and what is done so that it does not happen again."""

from django.utils import translation
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether

from cases.models import Case, CaseKind, DataKind

from . import data as frozen
from .base import DocumentRenderer, yen
from .diagram import LEGEND, movement_drawing

# Fixed Japanese: documents are Japanese whatever the language of the person issuing them.
KIND_TITLE = {
    CaseKind.ACCOUNT_MISREGISTRATION: "公金受取口座の誤登録",
    CaseKind.CASHLESS_LINK: "キャッシュレス決済の誤登録",
    CaseKind.OTHER: "事務処理の誤り",
}

# A person's part in a link, from their side (source's data went into target's record).
ROLE = {
    (DataKind.BANK_ACCOUNT, "target"): "別人（{other}）の口座情報が登録された方",
    (DataKind.BANK_ACCOUNT, "source"): "{other}のマイナポータルに自分名義の口座が登録された方",
    (DataKind.CASHLESS_ACCOUNT, "target"): "別人（{other}）のキャッシュレス決済が登録された方",
    (
        DataKind.CASHLESS_ACCOUNT,
        "source",
    ): "{other}のマイナポイントに自分のキャッシュレス決済が登録された方",
    (DataKind.OTHER, "target"): "別人（{other}）の情報が登録された方",
    (DataKind.OTHER, "source"): "{other}の記録に自分の情報が登録された方",
}

# Who bore the cost; the issuer's own column is its unit (市, 町, 県…), set when drawn.
COST_SIDES = [
    ("contractor", "委託事業者"),
    ("municipality", ""),
    ("national", "国（ポイント再付与）"),
]


def build(*, case: Case, **_) -> dict:
    with translation.override("ja"):
        return {"case": frozen.case_data(case), "people": frozen.masked_parties(case)}


def roles_of(label: str, links: list[dict]) -> list[str]:
    roles = []
    for link in links:
        for side, other in (("target", link["source"]), ("source", link["target"])):
            if link[side] == label:
                roles.append(ROLE[(link["data_kind"], side)].format(other=other))
    return list(dict.fromkeys(roles))


MONEY_KEYS = ("misallocated", "paid", "collected", "written_off", "withdrawn", "restored")


def money_status(person: dict) -> str:
    if person["balance"] > 0:
        return f"未精算（{yen(person['balance'])}のお渡しが必要）"
    if person["balance"] < 0:
        return f"未精算（{yen(-person['balance'])}の返還が必要）"
    if not any(person.get(k) for k in MONEY_KEYS):
        return "金銭の移動なし"
    how = []
    if person.get("withdrawn") or person.get("restored"):
        how.append("国による是正")
    if person["written_off"]:
        how.append("償却あり")
    return f"精算済（{'・'.join(how)}）" if how else "精算済"


def correction_text(person: dict) -> str:
    """The national system's correction for this person, as the 精算 table states it:
    points taken back from the holder, granted to the person owed."""
    parts = []
    if person.get("withdrawn"):
        parts.append(f"取消 {yen(person['withdrawn'])}")
    if person.get("restored"):
        parts.append(f"付与 {yen(person['restored'])}")
    return "\n".join(parts) or "—"


def keep_headings(styles: dict[str, ParagraphStyle]) -> dict[str, ParagraphStyle]:
    """A heading never ends a page: it moves over with the table or text it heads."""
    styles["heading"] = ParagraphStyle("heading_kept", parent=styles["heading"], keepWithNext=1)
    return styles


def signed_yen(amount: int) -> str:
    return yen(amount)  # △5,000円 for a negative balance (cases.wareki.yen)


def desk_of(office: str) -> str:
    """The kind of desk in an office's name: 八幡東区役所 マイナポイント支援窓口 → マイナポイ
    ント支援窓口 (the ward is said in the text)."""
    return office.replace("　", " ").split(" ")[-1]


class Renderer(DocumentRenderer):
    TITLE = "経過報告書"

    def _styles(self) -> dict[str, ParagraphStyle]:
        styles = super()._styles()
        styles["number"] = ParagraphStyle("number", parent=styles["cell"], alignment=TA_RIGHT)
        return keep_headings(styles)

    def story(self) -> list:
        case, people = self.data["case"], self.data["people"]
        m = self.data.get("municipality", {})
        story = [
            *self.number_block(),
            # To the head of the local government, from the department handling the case.
            self.t(f"{self.words.head}　様"),
            self.t(f"{m.get('name', '')}{m.get('department', '')}", "right"),
            self.t("経過報告書", "title"),
            self.t(f"{case['office']}における{KIND_TITLE[case['kind']]}について", "center"),
            self.spacer(3),
            self.meta_table(case),
        ]
        story += self.section("1　内容", [self.t(case["summary"] or case["discovery"], "indent")])
        story += [self.t("（1）関係者", "heading"), self.people_table(case, people)]
        story += self.diagram(case, people)
        cause = case["cause"] or "調査中"
        if case["cause_label"]:
            cause = f"【{case['cause_label']}】{cause}"
        story += self.section("2　原因", [self.t(cause, "indent")])
        story += self.section("3　経過", [self.timeline_table(case["timeline"])])
        story += self.section("4　精算の状況", self.ledger(case, people))
        lines = [ln for ln in case["prevention"].splitlines() if ln.strip()] or ["検討中"]
        story += self.section("5　再発防止策", [self.t(ln, "indent") for ln in lines])
        story += [self.spacer(4), self.t("以上", "right")]
        return story

    def section(self, heading: str, body: list) -> list:
        return [self.t(heading, "heading"), *body]

    def meta_table(self, case: dict):
        rows = [
            ["案件番号", case["reference"]],
            ["種別", KIND_TITLE[case["kind"]]],
            ["発生窓口", case["office"]],
            ["委託事業者", case["contractor"] or f"なし（{self.words.direct}）"],
            ["発生日", self.date(case["occurred_on"]) or "不明"],
            ["判明日", self.date(case["discovered_on"])],
            ["現在の段階", case["stage_label"]],
        ]
        table = self.table(rows, [30 * mm, self.frame_width - 30 * mm], header=False)
        table.setStyle([("BACKGROUND", (0, 0), (0, -1), "#e6e6e6")])
        return table

    def people_table(self, case: dict, people: list[dict]):
        rows = [["関係者", "立場", "特定の状況"]]
        for person in people:
            identified = "特定済"
            if not person["identified"]:
                identified = "未特定" + (f"（{person['note']}）" if person["note"] else "")
            role = "\n".join(roles_of(person["label"], case["links"])) or "—"
            rows.append([person["label"], role, identified])
        return self.table(rows, [20 * mm, self.frame_width - 70 * mm, 50 * mm])

    def diagram(self, case: dict, people: list[dict]) -> list:
        heading = self.t("（2）誤登録の動き（推定）", "heading")
        if not case["links"]:
            return [heading, self.t("誤って登録された情報の記録はない。", "indent")]
        unidentified = {p["label"] for p in people if not p["identified"]}
        drawing = movement_drawing(
            case["links"], width=self.frame_width, fonts=self.fonts, unidentified=unidentified
        )
        return [KeepTogether([heading, self.spacer(2), drawing, self.t(LEGEND, "small")])]

    def timeline_table(self, timeline: list[dict]):
        if not timeline:
            return self.t("記録なし", "indent")
        dates = self.story_dates([e["on"] for e in timeline])
        rows = [["日付", "主体", "内容"]]
        rows += [
            [d, e["actor"], e["text"] + ("" if e.get("public", True) else "（内部）")]
            for d, e in zip(dates, timeline, strict=True)
        ]
        return self.table(rows, [32 * mm, 36 * mm, self.frame_width - 68 * mm])

    def ledger(self, case: dict, people: list[dict]) -> list:
        # The national system's corrections get a column of their own, only where there is
        # one: they are neither a payment, a return nor a write-off.
        corrected = any(p.get("withdrawn") or p.get("restored") for p in people)
        header = ["関係者", "お渡し額", "返還額", "償却額", "残高", "状況"]
        if corrected:
            header.insert(3, "国による是正")
        rows = [header]
        for p in people:
            amounts = [
                self.t(amount, "number")
                for amount in (
                    yen(p["paid"]),
                    yen(p["collected"]),
                    yen(abs(p["written_off"])),
                    signed_yen(p["balance"]),
                )
            ]
            if corrected:
                amounts.insert(2, self.t(correction_text(p), "number"))
            rows.append([p["label"], *amounts, money_status(p)])
        widths = [20 * mm, 22 * mm, 22 * mm, 22 * mm, 22 * mm]
        if corrected:
            widths = [18 * mm, 20 * mm, 20 * mm, 26 * mm, 20 * mm, 22 * mm]
        table = self.table(rows, [*widths, self.frame_width - sum(widths)])
        costs = case["costs"]
        borne = "、".join(
            f"{name or self.words.unit} {yen(costs.get(side, 0))}"
            for side, name in COST_SIDES
            if side != "national" or costs.get(side)
        )
        notes = [
            self.t(
                "※ 残高は、正の値がその方にお渡しすべき額、負の値がその方が誤って保有している額。",
                "small",
            )
        ]
        if corrected:
            notes.append(
                self.t(
                    "※ 国による是正は、国のマイナポイントの仕組みにより、誤って付与されたポイント"
                    "が付与を受けた方から取り消され（取消）、本来付与されるべき方に付与された"
                    "（付与）もの。いずれの費用負担も生じない。",
                    "small",
                )
            )
        lines = [self.t(f"費用負担（支払額から回収額を差し引いた額）：{borne}", "indent")]
        restored = sum(p.get("restored", 0) for p in people)
        if restored:
            lines.append(self.t(f"国による是正：{yen(restored)}（費用負担なし）", "indent"))
        return [table, *notes, self.spacer(2), *lines]
