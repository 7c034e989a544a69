"""完了チェック表: the blank sheet a support desk keeps beside the terminal.

After every citizen, the citizen and the desk's supporter check together that the card was
handed back, the portal logged out and the application screen closed, and both sign; a
procedure left unfinished is checked by the leader too (the prevention measures that
followed the logout errors). One A4 page, one row per citizen.
"""

from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from .base import DocumentRenderer, blank_jdate

CHECKS = ["マイナンバーカードの返却", "マイナポータルからのログアウト", "申込画面の終了"]
# Where a column heading breaks, so that it breaks between words.
HEADING_BREAKS = {
    "マイナンバーカードの返却": 6,
    "マイナポータルからのログアウト": 7,
    "申込画面の終了": 4,
}
ROWS = 10


def build(**_kw) -> dict:
    # Frozen like every document, so a sheet issued today re-renders the same later.
    return {"checklist": {"checks": CHECKS, "rows": ROWS}}


def _broken(heading: str) -> str:
    at = HEADING_BREAKS.get(heading)
    return f"{heading[:at]}<br/>{heading[at:]}" if at else heading


class Renderer(DocumentRenderer):
    TITLE = "支援窓口 完了チェック表"
    MARGIN_X = 14 * mm  # narrower than letters: the table needs the width
    MARGIN_TOP = 14 * mm
    MARGIN_BOTTOM = 16 * mm

    def story(self) -> list:
        checks = self.data["checklist"]["checks"]
        width = self.frame_width
        story = []
        if self.data.get("number_text"):
            story.append(self.t(self.data["number_text"], "small_right"))
        story += [
            self.t(self.TITLE, "title"),
            self.t("（マイナポイント申込・公金受取口座登録の支援）", "center"),
            self.spacer(3),
            self.ruled(
                [["窓口名", "", "実施日", blank_jdate(self.data.get("dated"))]],
                [16 * mm, width * 0.5 - 16 * mm, 16 * mm, width * 0.5 - 16 * mm],
                height_mm=9,
            ),
            self.spacer(3),
            self.instructions(checks),
            self.spacer(3),
            self.sheet(checks),
            self.spacer(4),
            self.ruled(
                [["本日分の確認（リーダー）", "", "印"]],
                [50 * mm, width - 64 * mm, 14 * mm],
                height_mm=9,
            ),
        ]
        return story

    def instructions(self, checks: list[str]) -> Table:
        citizen = f"{self.words.unit}民"  # 市民, 町民, 村民, 区民, 県民
        numbered = "　".join(f"{n}{c}" for n, c in zip("①②③", checks, strict=False))
        lines = [
            f"1　手続きが終わったら、{citizen}の方と支援者が一緒に次の項目を確認し、□にレ印を付けて"
            f"ください。<br/>　　{numbered}",
            "2　手続きの状況（完了／中断）の□にレ印を付けてください。手続きを途中で中断した場合は、"
            "リーダーがログアウトと申込画面の終了を確認し、氏名を記入してください。",
            f"3　{citizen}の方と支援者が、それぞれ署名してください。",
        ]
        box = Table([[[self.p(line, "note") for line in lines]]], colWidths=[self.frame_width])
        box.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, "#000000")]))
        return box

    def sheet(self, checks: list[str]) -> Table:
        width = self.frame_width
        head = [
            "受付<br/>番号",
            *(f"{n}<br/>{_broken(c)}" for n, c in zip("①②③", checks, strict=False)),
        ]
        citizen = f"{self.words.unit}民署名"  # 市民署名, 町民署名…
        head += ["手続きの<br/>状況", "リーダー確認<br/>（中断の場合）", citizen, "支援者署名"]
        box = "□"
        row = [
            "",
            *([box] * len(checks)),
            f"{box}完了<br/>{box}中断",
            f"{box}確認済<br/><font size=7>氏名</font>",
            "",
            "",
        ]
        fixed = [12 * mm, 25 * mm, 25 * mm, 20 * mm, 18 * mm, 24 * mm]
        sign = (width - sum(fixed)) / 2
        rows = [[self.p(c, "head") for c in head]]
        rows += [[self.p(c, "check") for c in row] for _ in range(self.data["checklist"]["rows"])]
        table = Table(
            rows,
            colWidths=[*fixed, sign, sign],
            rowHeights=[14 * mm] + [16 * mm] * self.data["checklist"]["rows"],
            repeatRows=1,
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, "#000000"),
                    ("BACKGROUND", (0, 0), (-1, 0), "#e6e6e6"),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return table

    def _styles(self) -> dict[str, ParagraphStyle]:
        styles = super()._styles()
        body = styles["body"]
        styles["head"] = ParagraphStyle(
            "head",
            parent=body,
            fontName=self.fonts.gothic,
            fontSize=8,
            leading=11,
            alignment=TA_CENTER,
        )
        styles["check"] = ParagraphStyle(
            "check", parent=body, fontSize=10, leading=15, alignment=TA_CENTER
        )
        styles["note"] = ParagraphStyle("note", parent=body, fontSize=9, leading=14)
        styles["small_right"] = ParagraphStyle(
            "small_right", parent=styles["right"], fontSize=8, leading=11
        )
        return styles
