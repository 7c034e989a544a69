"""誤登録の動き（推定）: who got whose data, drawn as boxes and arrows.

Like the attachment of a press release: one box per person (label only), one arrow per
misregistration link from source to target ("source's account was registered into the
target's record"), labelled with the kind of data and, underneath, where the money or
points went. People linked to each other share a row; unrelated pairs get rows of their
own, so 1–4 links and chains (A got B's, B got C's) stay legible.
"""

from dataclasses import dataclass, field
from itertools import permutations

from reportlab.graphics.shapes import Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.pdfbase.pdfmetrics import stringWidth

from .fonts import FontSet

BOX_W, BOX_H = 62.0, 30.0
NARROW_BOX_W = 46.0  # rows of four people or more leave the room to the arrows
MAX_GAP = 190.0  # a single pair is not stretched across the whole page
LABEL_SIZE, NOTE_SIZE = 8.0, 7.0
LINE_H = 9.5
ARC_STEP = 16.0  # height between stacked arcs over a row
ROW_GAP = 14.0
HEAD = 5.0  # arrowhead length
INK, GREY, FILL = "#000000", "#555555", "#eeeeee"
# Orders tried exhaustively up to this many people in one row (6! = 720, cheap).
MAX_PERMUTED = 6

# What moved, said in the arrow's direction (source → target): the source's account was
# put into the target's record, so the source received what was meant for the target
# (DESIGN: A's public funds would go to B's account; C's points went to D's). The note
# names the source first, as the arrow starts there.
FLOW = {
    ("bank_account", True): "{source}の口座に{target}宛ての給付金等が入金",
    ("bank_account", False): "給付金等の交付なし",
    ("cashless_account", True): "{source}に{target}分のポイントが付与",
    ("cashless_account", False): "ポイントの付与なし",
}


def flow_note(link: dict) -> str:
    note = FLOW.get((link["data_kind"], bool(link["paid_through"])), "")
    return note.format(source=link["source"], target=link["target"])


def _components(links: list[dict]) -> list[tuple[list[str], list[dict]]]:
    """People joined by links, each group in order of first appearance."""
    groups: list[tuple[list[str], list[dict]]] = []
    for link in links:
        ends = {link["source"], link["target"]}
        touching = [g for g in groups if ends & set(g[0])]
        people: list[str] = []
        members: list[dict] = []
        for g in touching:
            groups.remove(g)
            people += g[0]
            members += g[1]
        for p in (link["source"], link["target"]):
            if p not in people:
                people.append(p)
        groups.append((people, [*members, link]))
    return groups


def _order(people: list[str], links: list[dict]) -> list[str]:
    """The left-to-right order that puts most linked people side by side, reading
    source → target where it can."""
    if len(people) > MAX_PERMUTED:
        return people

    def score(order: tuple[str, ...]) -> tuple[int, int, int]:
        at = {p: i for i, p in enumerate(order)}
        spans = [abs(at[lk["source"]] - at[lk["target"]]) for lk in links]
        forwards = sum(at[lk["source"]] < at[lk["target"]] for lk in links)
        # Neighbours first, then short arcs (a hub goes in the middle), then reading order.
        return spans.count(1), -sum(spans), forwards

    # max() keeps the first best order, and permutations() starts from `people`: stable.
    return list(max(permutations(people), key=score))


def _wrap(value: str, font: str, size: float, width: float) -> list[str]:
    """Japanese has no spaces to break at: break between any two characters."""
    lines, line = [], ""
    for ch in value:
        if line and stringWidth(line + ch, font, size) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


@dataclass
class _Row:
    people: list[str]
    xs: dict[str, float]  # box centre per person
    box_w: float
    gap: float
    straight: list[tuple[dict, int, int]] = field(default_factory=list)  # link, slot, of
    arcs: list[tuple[dict, int]] = field(default_factory=list)  # link, level
    arc_x: dict[tuple[int, str], float] = field(default_factory=dict)  # (arc, person) → x
    labels_up: float = 0.0  # room over the boxes for the arrow labels, under the arcs
    above: float = 0.0
    below: float = 0.0


class MovementDiagram:
    """Builds the Drawing (a platypus flowable) for the links of one case."""

    def __init__(
        self,
        links: list[dict],
        *,
        width: float,
        fonts: FontSet,
        unidentified: frozenset[str] = frozenset(),
    ):
        self.links = links
        self.width = width
        self.font = fonts.gothic
        self.note_font = fonts.mincho
        self.unidentified = unidentified

    # ---- layout ------------------------------------------------------------------------

    def _row(self, people: list[str], links: list[dict]) -> _Row:
        people = _order(people, links)
        n = len(people)
        box_w = BOX_W if n <= 3 else NARROW_BOX_W
        usable = self.width - 4  # a box's outline on the frame edge would be cut in half
        gap = min(MAX_GAP, (usable - n * box_w) / max(n - 1, 1))
        left = 2 + (usable - (n * box_w + (n - 1) * gap)) / 2 + box_w / 2
        xs = {p: left + i * (box_w + gap) for i, p in enumerate(people)}
        row = _Row(people, xs, box_w=box_w, gap=gap)
        at = {p: i for i, p in enumerate(people)}
        pairs: dict[frozenset, list[dict]] = {}
        for link in links:
            if abs(at[link["source"]] - at[link["target"]]) == 1:
                pairs.setdefault(frozenset((link["source"], link["target"])), []).append(link)
            else:
                row.arcs.append((link, 0))
        for same_pair in pairs.values():
            # Two arrows between the same two people run side by side; more would crowd
            # the gap, so they go over the top like non-neighbours.
            for slot, link in enumerate(same_pair[:2]):
                row.straight.append((link, slot, min(len(same_pair), 2)))
            row.arcs += [(link, 0) for link in same_pair[2:]]
        row.arcs = [(link, level + 1) for level, (link, _) in enumerate(row.arcs)]
        # Arcs meeting at one box land side by side on its top, not on one point.
        ends: dict[str, list[int]] = {}
        for i, (link, _) in enumerate(row.arcs):
            for person in (link["source"], link["target"]):
                ends.setdefault(person, []).append(i)
        for person, arcs in ends.items():
            step = min(12.0, (box_w - 12) / max(len(arcs) - 1, 1))
            for k, i in enumerate(arcs):
                row.arc_x[(i, person)] = xs[person] + (k - (len(arcs) - 1) / 2) * step
        width = gap - 8
        up = down = 0
        for link, slot, of in row.straight:
            label, note = self._texts(link, width)
            if of == 1:
                up, down = max(up, len(label)), max(down, len(note))
            elif slot == 0:
                up = max(up, len(label) + len(note))
            else:
                down = max(down, len(label) + len(note))
        row.labels_up = up * LINE_H + 6
        row.above = row.labels_up + len(row.arcs) * ARC_STEP + (8 if row.arcs else 0)
        row.below = down * LINE_H + 6
        return row

    def _texts(self, link: dict, width: float) -> tuple[list[str], list[str]]:
        return (
            _wrap(link["data_label"], self.font, LABEL_SIZE, width),
            _wrap(flow_note(link), self.note_font, NOTE_SIZE, width),
        )

    # ---- drawing -----------------------------------------------------------------------

    def drawing(self) -> Drawing:
        rows = [self._row(people, links) for people, links in _components(self.links)]
        height = sum(r.above + BOX_H + r.below for r in rows) + ROW_GAP * (len(rows) - 1)
        d = Drawing(self.width, height)
        top = height
        for row in rows:
            box_y = top - row.above - BOX_H
            self._draw_row(d, row, box_y)
            top = box_y - row.below - ROW_GAP
        return d

    def _draw_row(self, d: Drawing, row: _Row, box_y: float) -> None:
        mid = box_y + BOX_H / 2
        for person, x in row.xs.items():
            w = row.box_w
            d.add(Rect(x - w / 2, box_y, w, BOX_H, fillColor=FILL, strokeColor=INK))
            if person in self.unidentified:
                d.add(self._string(x, mid + 2, person, LABEL_SIZE + 2))
                d.add(self._string(x, box_y + 5, "（未特定）", NOTE_SIZE, note=True))
            else:
                d.add(self._string(x, mid - 4, person, LABEL_SIZE + 2))
        for link, slot, of in row.straight:
            self._straight(d, row, link, mid, slot, of)
        for i, (link, level) in enumerate(row.arcs):
            x1, x2 = row.arc_x[(i, link["source"])], row.arc_x[(i, link["target"])]
            self._arc(d, row, link, x1, x2, box_y + BOX_H, level)

    def _straight(self, d: Drawing, row: _Row, link: dict, mid: float, slot: int, of: int):
        x1, x2 = row.xs[link["source"]], row.xs[link["target"]]
        sign = 1 if x2 > x1 else -1
        start, end = x1 + sign * row.box_w / 2, x2 - sign * row.box_w / 2
        y = mid + (0 if of == 1 else (5 if slot == 0 else -5))
        d.add(Line(start, y, end - sign * HEAD, y, strokeColor=INK, strokeWidth=1))
        d.add(self._head(end, y, sign, 0))
        label, note = self._texts(link, row.gap - 8)
        cx = (start + end) / 2
        if of == 1:
            self._lines_up(d, cx, y + 4, label, LABEL_SIZE)
            self._lines_down(d, cx, y - 4, note, NOTE_SIZE, note=True)
        elif slot == 0:
            self._lines_up(d, cx, y + 4, label + note, LABEL_SIZE, first_notes=len(label))
        else:
            self._lines_down(d, cx, y - 4, label + note, LABEL_SIZE, first_notes=len(label))

    def _arc(self, d, row: _Row, link: dict, x1: float, x2: float, box_top: float, level: int):
        # Over the boxes in between, one level per arc so that none overlaps another.
        y = box_top + row.labels_up + level * ARC_STEP - 4
        d.add(
            PolyLine(
                [x1, box_top, x1, y, x2, y, x2, box_top + HEAD],
                strokeColor=INK,
                strokeWidth=1,
            )
        )
        d.add(self._head(x2, box_top, 0, -1))
        text = f"{link['data_label']}（{flow_note(link)}）"
        d.add(self._string((x1 + x2) / 2, y + 2.5, text, NOTE_SIZE))

    def _lines_up(self, d, x, y, lines, size, *, first_notes=None, note=False):
        for i, line in enumerate(reversed(lines)):
            is_note = note or (first_notes is not None and len(lines) - 1 - i >= first_notes)
            d.add(self._string(x, y + i * LINE_H, line, NOTE_SIZE if is_note else size, is_note))

    def _lines_down(self, d, x, y, lines, size, *, first_notes=None, note=False):
        for i, line in enumerate(lines):
            is_note = note or (first_notes is not None and i >= first_notes)
            size_i = NOTE_SIZE if is_note else size
            d.add(self._string(x, y - size_i - i * LINE_H, line, size_i, is_note))

    def _string(self, x: float, y: float, value: str, size: float, note: bool = False):
        return String(
            x,
            y,
            value,
            fontName=self.note_font if note else self.font,
            fontSize=size,
            fillColor=GREY if note else INK,
            textAnchor="middle",
        )

    def _head(self, x: float, y: float, dx: int, dy: int) -> Polygon:
        """A filled arrowhead with its tip at (x, y), pointing along (dx, dy)."""
        bx, by = x - dx * HEAD * 1.6, y - dy * HEAD * 1.6
        px, py = -dy * HEAD * 0.7, dx * HEAD * 0.7
        return Polygon(
            [x, y, bx + px, by + py, bx - px, by - py],
            fillColor=INK,
            strokeColor=INK,
            strokeWidth=0.5,
        )


LEGEND = (
    "※ 矢印は、矢印の元の方の情報（口座・キャッシュレス決済）が、矢印の先の方の記録に"
    "誤って登録されたことを示す。下の注記は、その結果、誰に何が渡ったか。"
)


def movement_drawing(
    links: list[dict], *, width: float, fonts: FontSet, unidentified=frozenset()
) -> Drawing:
    return MovementDiagram(
        links, width=width, fonts=fonts, unidentified=frozenset(unidentified)
    ).drawing()
