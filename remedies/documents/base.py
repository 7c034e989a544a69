"""The page template every document shares: A4, margins, styles, page numbers, the 文書番号
block, and the draft mark on previews. One module per document builds on it."""

import io
from datetime import date
from xml.sax.saxutils import escape  # nosec B406  # escapes text for reportlab; parses no XML

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cases.issuer import IssuerWords, frozen_words
from cases.wareki import era_year, wareki, yen

from .fonts import fonts


def jdate(iso: str | None, *, gregorian: bool = False) -> str:
    """令和5年3月16日, or 令和5年（2023年）3月16日 where the municipality wants the year too."""
    if not iso:
        return ""
    day = date.fromisoformat(iso)
    if not gregorian:
        return wareki(day)
    name, year = era_year(day)
    year_text = "元" if year == 1 else str(year)
    return f"{name}{year_text}年（{day.year}年）{day.month}月{day.day}日"


def text(value: str) -> str:
    """Plain text into a Paragraph: escaped, line breaks and ideographic spaces kept."""
    return keep_spaces(escape(value or "").replace("\n", "<br/>"))


def keep_spaces(markup: str) -> str:
    """Paragraph collapses runs of whitespace, the ideographic space (U+3000) included, before
    it parses entities; written as an entity, 「北九州市長　様」 keeps its full-width space."""
    return markup.replace("\u3000", "&#x3000;")


def blank_jdate(iso: str | None) -> str:
    """令和　　年　　月　　日: a date left for the person signing to write in, in the era of
    the document's own date."""
    name, _ = era_year(date.fromisoformat(iso) if iso else date.today())
    return f"{name}　　年　　月　　日"


def kin(amount: int) -> str:
    """An amount as receipts and requests state it: 金5,000円."""
    return f"金{yen(amount)}"


__all__ = ["DocumentRenderer", "blank_jdate", "jdate", "kin", "text", "yen"]


class DocumentRenderer:
    """Draws one document from its frozen data. Subclasses set TITLE and write story()."""

    PAGE_SIZE = A4
    MARGIN_X = 22 * mm
    MARGIN_TOP = 20 * mm
    MARGIN_BOTTOM = 20 * mm
    BODY_SIZE = 10.5
    TITLE = ""
    # A letter to a citizen fits on one page: when it would run on, it is set again with
    # tighter line spacing (DOCUMENTS.md), unless even that cannot hold it.
    ONE_PAGE = False
    COMPACT_LEADING = 1.5

    def __init__(self, data: dict, *, draft: bool = False):
        self.data = data
        self.draft = draft
        self.fonts = fonts()
        self.compact = False
        self.styles = self._styles()

    # ---- layout ----------------------------------------------------------------------------

    def _styles(self) -> dict[str, ParagraphStyle]:
        body = ParagraphStyle(
            "body",
            fontName=self.fonts.mincho,
            fontSize=self.BODY_SIZE,
            leading=self.BODY_SIZE * (self.COMPACT_LEADING if self.compact else 1.75),
            wordWrap="CJK",
        )
        return {
            "body": body,
            "indent": ParagraphStyle("indent", parent=body, firstLineIndent=self.BODY_SIZE),
            "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
            "center": ParagraphStyle("center", parent=body, alignment=TA_CENTER),
            "title": ParagraphStyle(
                "title",
                parent=body,
                fontName=self.fonts.gothic,
                fontSize=14,
                leading=22,
                alignment=TA_CENTER,
                spaceBefore=4 if self.compact else 10,
                spaceAfter=6 if self.compact else 12,
            ),
            "heading": ParagraphStyle(
                "heading",
                parent=body,
                fontName=self.fonts.gothic,
                fontSize=11,
                leading=16 if self.compact else 18,
                spaceBefore=4 if self.compact else 8,
                spaceAfter=2,
                alignment=TA_LEFT,
            ),
            "small": ParagraphStyle("small", parent=body, fontSize=9, leading=14),
            "contact": ParagraphStyle("contact", parent=body, fontSize=9.5, leading=14),
            "address": ParagraphStyle("address", parent=body, fontSize=10.5, leading=15),
            "addressee": ParagraphStyle("addressee", parent=body, fontSize=13, leading=20),
            "cell": ParagraphStyle("cell", parent=body, fontSize=9.5, leading=14),
        }

    def p(self, value: str, style: str = "body") -> Paragraph:
        return Paragraph(keep_spaces(value), self.styles[style])

    def t(self, value: str, style: str = "body") -> Paragraph:
        if style == "title":
            return Paragraph(self.title_lines(value), self.styles[style])
        return Paragraph(text(value), self.styles[style])

    def title_lines(self, value: str) -> str:
        """A subject too long for one line is broken where it reads naturally — after
        「における」, or before its closing （お詫び）／（お願い） — never leaving an opening
        bracket alone at the end of a line."""
        style = self.styles["title"]

        def fits(part: str) -> bool:
            return stringWidth(part, style.fontName, style.fontSize) <= self.frame_width

        if fits(value):
            return text(value)
        head, sep, tail = value.partition("における")
        if sep and tail and fits(head + sep) and fits(tail):
            return text(head + sep) + "<br/>" + text(tail)
        cut = value.rfind("（")
        if cut > 0 and fits(value[:cut]):
            return text(value[:cut]) + "<br/>" + text(value[cut:])
        return text(value)

    def date(self, iso: str | None) -> str:
        return jdate(iso, gregorian=self.data.get("municipality", {}).get("gregorian", False))

    def number_block(self) -> list:
        """文書番号 and date, top right, as official letters carry them."""
        lines = []
        if self.data.get("number_text"):
            lines.append(self.t(self.data["number_text"], "right"))
        lines.append(self.t(self.date(self.data.get("dated")), "right"))
        return lines

    @property
    def words(self) -> IssuerWords:
        """The issuer's words (本市/本町…, 市長/町長…), as frozen with the document."""
        return frozen_words(self.data.get("municipality", {}))

    def sender_text(self) -> str:
        """北九州市長　山田　一郎: the signatory's title and name; the head of the local
        government where no signatory is set."""
        m = self.data.get("municipality", {})
        title = m.get("sender_title") or self.words.head
        return "\u3000".join(x for x in (title, m.get("sender_name")) if x)

    def sender_block(self, *, seal_note: bool = False) -> list:
        lines = [self.t(self.sender_text(), "right")]
        if seal_note and not self.data.get("municipality", {}).get("sealed"):
            lines.append(self.t("（公印省略）", "right"))
        return lines

    def address_block(self, party: dict) -> list:
        """The addressee as it goes into a window envelope: 〒 and address, then the full
        name with 様."""
        lines = []
        address = (party.get("address") or "").strip()
        if address:
            lines.append(self.t(address, "address"))
        lines.append(self.t(f"{party.get('name', '')}　様", "addressee"))
        return [*lines, self.spacer(3)]

    def contact_block(self) -> list:
        """The press contact (報道発表資料 only): department, phone, section chief."""
        m = self.data.get("municipality", {})
        lines = [
            self.t(f"{m.get('name', '')}{m.get('department', '')}"),
        ]
        if m.get("phone"):
            lines.append(self.t(f"TEL {m['phone']}"))
        if m.get("contact_people"):
            lines.append(self.t(m["contact_people"]))
        # The heading is kept with its lines: never alone at the foot of a page.
        return [KeepTogether([self.p("【問合せ先】", "heading"), *lines])]

    def citizen_contact_block(self) -> list:
        """The citizen's contact in a letter: the department handling the case, its phone,
        the person in charge; bottom right, kept together."""
        m = self.data.get("municipality", {})
        department = m.get("citizen_department", m.get("department", ""))
        phone = m.get("citizen_phone", m.get("phone", ""))
        lines = [
            self.t("【お問合せ先】", "contact"),
            self.t(f"{m.get('name', '')}{department}", "contact"),
        ]
        if phone:
            lines.append(self.t(f"電話　{phone}", "contact"))
        if m.get("citizen_person"):
            lines.append(self.t(f"担当　{m['citizen_person']}", "contact"))
        box = Table([[lines]], colWidths=[self.frame_width * 0.5], hAlign="RIGHT")
        box.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 0.5, "#000000"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 6),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        return [box]

    def table(self, rows: list[list], widths: list[float], *, header: bool = True) -> Table:
        cells = [[c if not isinstance(c, str) else self.t(c, "cell") for c in row] for row in rows]
        # splitInRow: a row taller than a page (a 2,000-character 経過 entry) flows on to the
        # next page instead of failing with LayoutError.
        table = Table(cells, colWidths=widths, repeatRows=1 if header else 0, splitInRow=1)
        style = [
            ("GRID", (0, 0), (-1, -1), 0.5, "#000000"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), "#e6e6e6"))
        table.setStyle(TableStyle(style))
        return table

    def ruled(
        self,
        rows: list[list],
        widths: list[float],
        *,
        height_mm: float = 11,
        label_cols: int = 1,
    ) -> Table:
        """Lines to write on (住所 ＿＿＿ 印): the cells after the first `label_cols` of each
        row are ruled underneath, so the person signing has a line to sign on."""
        cells = [[c if not isinstance(c, str) else self.t(c) for c in row] for row in rows]
        table = Table(cells, colWidths=widths, rowHeights=height_mm * mm)
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                    ("LINEBELOW", (label_cols, 0), (-1, -1), 0.5, "#000000"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return table

    def spacer(self, height_mm: float = 4) -> Spacer:
        return Spacer(1, height_mm * mm * (0.5 if self.compact else 1))

    def story_dates(self, isos: list[str]) -> list[str]:
        """The date column of a 経過 table as press releases print it: the first date in
        full (令和4年9月21日), later ones of the same year as 9月22日, a repeat as 同日."""
        shown, previous = [], None
        for iso in isos:
            day = date.fromisoformat(iso)
            if day == previous:
                shown.append("同日")
            elif previous is not None and era_year(day) == era_year(previous):
                shown.append(f"{day.month}月{day.day}日")
            else:
                shown.append(self.date(iso))
            previous = day
        return shown

    @property
    def frame_width(self) -> float:
        return self.PAGE_SIZE[0] - 2 * self.MARGIN_X

    # ---- hooks -----------------------------------------------------------------------------

    def story(self) -> list:
        raise NotImplementedError

    def _on_page(self, canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(self.fonts.mincho, 8)
        width, _ = self.PAGE_SIZE
        canvas.drawCentredString(width / 2, 10 * mm, f"- {doc.page} -")
        if self.draft:
            # Previews are marked so that nobody mistakes one for an issued document.
            canvas.setFont(self.fonts.gothic, 11)
            canvas.setFillColor("#b3261e")
            canvas.drawString(
                self.MARGIN_X, self.PAGE_SIZE[1] - 12 * mm, "【案】未発行（プレビュー）"
            )
        canvas.restoreState()

    def render(self) -> bytes:
        pdf, pages = self._build()
        if self.ONE_PAGE and pages > 1 and not self.compact:
            self.compact = True
            self.styles = self._styles()
            tight, tight_pages = self._build()
            if tight_pages < pages:
                return tight
            self.compact = False
            self.styles = self._styles()
        return pdf

    def _build(self) -> tuple[bytes, int]:
        """The PDF and its number of pages."""
        buffer = io.BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=self.PAGE_SIZE,
            leftMargin=self.MARGIN_X,
            rightMargin=self.MARGIN_X,
            topMargin=self.MARGIN_TOP,
            bottomMargin=self.MARGIN_BOTTOM,
            title=self.TITLE,
            author=self.data.get("municipality", {}).get("name", ""),
            creator="Tadasu",
            # Fixed so that the same data gives the same bytes (and the same SHA-256).
            invariant=True,
        )
        document.build(self.story(), onFirstPage=self._on_page, onLaterPages=self._on_page)
        return buffer.getvalue(), document.page
