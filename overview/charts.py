"""Charts drawn on the server as SVG: bars people read at a glance, with the numbers beside
them. Each chart comes with a table of the same figures (the text alternative), so a chart
never says anything the page does not also say in words."""

import html
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext

ROW = 26  # px per bar
LABEL_WIDTH = 170  # px kept for the label on the left
BAR_WIDTH = 200  # px for the longest bar
VALUE_WIDTH = 90  # px for the number on the right
PLOT_HEIGHT = 120  # px of the month chart's columns


@dataclass(frozen=True)
class BarRow:
    label: str
    value: int
    y: int
    width: float
    text: str  # the value as shown ("12件", "5,000円")
    css: str = ""


@dataclass(frozen=True)
class BarChart:
    title: str
    rows: list[BarRow]
    height: int
    width: int = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    label_width: int = LABEL_WIDTH
    value_x: int = LABEL_WIDTH + BAR_WIDTH + 8

    @property
    def total(self) -> int:
        return sum(r.value for r in self.rows)


def bar_chart(
    title: str,
    items: Iterable[tuple[str, int]],
    *,
    fmt=lambda v: f"{v:,}",
    css=lambda label: "",
) -> BarChart:
    items = list(items)
    top = max((v for _label, v in items), default=0)
    rows = [
        BarRow(
            label=label,
            value=value,
            y=i * ROW,
            # A non-zero value always gets a visible sliver.
            width=0 if value <= 0 else max(BAR_WIDTH * value / top, 2),
            text=fmt(value),
            css=css(label),
        )
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(title=title, rows=rows, height=max(len(rows), 1) * ROW)


def _escape(value) -> str:
    """What Django's conditional_escape(value) gives (and a template's {{ value }}): a safe
    text as it is, anything else as its text, escaped (Django's escape is html.escape).
    Without the wrapper for lazy arguments around conditional_escape: the charts and tables
    escape some 240 values a dashboard, and the wrapper cost more than the escaping."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _cut(text: str, length: int) -> str:
    """`|truncatechars:length`: Django's Truncator, which first puts the text in NFC and
    returns a text of at most `length` characters as it is, without its cost for the short
    labels that are most of them."""
    text = unicodedata.normalize("NFC", text)
    return text if len(text) <= length else Truncator(text).chars(length)


def bar_chart_html(chart: BarChart, id: str) -> SafeString:
    """The chart as its figure: the SVG, its text alternative and its table of figures.

    Written out rather than rendered by a template: the dashboard draws seven of these
    afresh after every change in the city, and a template resolves and filters each value
    of each row one by one. The text is what the former template `overview/bar_chart.html`
    rendered, byte for byte (tests/overview/test_charts.py renders that template beside
    this and compares), escaped as the template escaped it."""
    e = _escape
    head = f'<figure class="card chart-card" aria-labelledby="{e(id)}-title">\n'
    head += f'  <h3 id="{e(id)}-title">{e(chart.title)}</h3>\n  '
    if not chart.rows:
        empty = f'<p class="empty">{e(gettext("Nothing to show."))}</p>\n</figure>\n'
        return mark_safe(head + empty)  # noqa: S308  # nosec B308 B703  # escaped above
    names = [str(row.label) for row in chart.rows]
    labels = [e(name) for name in names]
    texts = [e(row.text) for row in chart.rows]
    bars = "".join(
        f'\n    <text x="{chart.label_width - 8}" y="{row.y + 17}" text-anchor="end">'
        f"{e(_cut(name, 14))}</text>\n"
        f'    <rect class="bar {e(row.css)}" x="{chart.label_width}" y="{row.y + 4}" '
        f'width="{row.width:.1f}" height="18"></rect>\n'
        f'    <text x="{chart.value_x}" y="{row.y + 17}">{text}</text>\n    '
        for row, name, text in zip(chart.rows, names, texts, strict=True)
    )
    said = "、".join(f"{label}: {text}" for label, text in zip(labels, texts, strict=True))
    figures = "".join(
        f'<tr><th scope="row">{label}</th><td class="num">{text}</td></tr>'
        for label, text in zip(labels, texts, strict=True)
    )
    body = (
        f'\n  <svg class="chart" width="{chart.width}" height="{chart.height}" '
        f'viewBox="0 0 {chart.width} {chart.height}" role="img" '
        f'aria-labelledby="{e(id)}-title {e(id)}-text" focusable="false">\n    {bars}\n  </svg>\n'
        f'  <p class="visually-hidden" id="{e(id)}-text">{said}</p>\n'
        f"  <details><summary>{e(gettext('Figures'))}</summary>\n"
        f'    <table class="list figure-table"><thead><tr><th scope="col">{e(gettext("Item"))}'
        f'</th><th scope="col" class="num">{e(gettext("Value"))}</th></tr></thead>\n'
        f"    <tbody>{figures}</tbody></table>\n"
        "  </details>\n  \n</figure>\n"
    )
    return mark_safe(head + body)  # noqa: S308  # nosec B308 B703  # escaped above


@dataclass(frozen=True)
class MonthColumn:
    month: str  # "2026-11"
    label: str  # "2026年11月", for the table and the text alternative
    short: str  # "11月", under the column
    year: str  # "2026年" under January and the first column, else ""
    opened: int
    closed: int
    x: int
    opened_height: float
    closed_height: float

    @property
    def opened_y(self) -> float:
        return PLOT_HEIGHT - self.opened_height

    @property
    def closed_y(self) -> float:
        return PLOT_HEIGHT - self.closed_height


@dataclass(frozen=True)
class MonthChart:
    columns: list[MonthColumn]
    width: int
    top: int = 0


def month_chart(months: list[tuple[str, str, str, str, int, int]]) -> MonthChart:
    """Opened and closed cases per month as paired columns (opened left, closed right)."""
    top = max([max(o, c) for *_labels, o, c in months] or [0])
    column = 44
    scale = PLOT_HEIGHT / top if top else 0
    cols = [
        MonthColumn(
            month=month,
            label=label,
            short=short,
            year=year if (i == 0 or month.endswith("-01")) else "",
            opened=opened,
            closed=closed,
            x=i * column,
            opened_height=opened * scale,
            closed_height=closed * scale,
        )
        for i, (month, label, short, year, opened, closed) in enumerate(months)
    ]
    return MonthChart(columns=cols, width=max(len(cols), 1) * column, top=top)


def month_chart_html(chart: MonthChart) -> SafeString:
    """The months' figure (opened and closed per month), written out as bar_chart_html is:
    the bytes the former inline template gave (tests/overview/test_charts.py compares them
    with tests/overview/month_chart.html). `|add` in that template cut a column's height to
    a whole pixel before moving the number above it; so does int() here."""
    e = _escape
    columns = []
    for col in chart.columns:
        opened = (
            f'<text x="{col.x + 13}" y="{int(col.opened_y) - 4}" text-anchor="middle">'
            f"{col.opened}</text>"
            if col.opened
            else ""
        )
        closed = (
            f'<text x="{col.x + 29}" y="{int(col.closed_y) - 4}" text-anchor="middle">'
            f"{col.closed}</text>"
            if col.closed
            else ""
        )
        year = (
            f'<text x="{col.x + 21}" y="154" text-anchor="middle">{e(col.year)}</text>'
            if col.year
            else ""
        )
        columns.append(
            f'\n      <rect class="bar" x="{col.x + 6}" y="{col.opened_y:.1f}" width="14" '
            f'height="{col.opened_height:.1f}"></rect>\n'
            f'      <rect class="bar alt" x="{col.x + 22}" y="{col.closed_y:.1f}" width="14" '
            f'height="{col.closed_height:.1f}"></rect>\n'
            f"      {opened}\n"
            f"      {closed}\n"
            f'      <text x="{col.x + 21}" y="138" text-anchor="middle">{e(col.short)}</text>\n'
            f"      {year}\n      "
        )
    said = "、".join(
        f"{e(col.label)}: "
        + gettext("%(o)s opened, %(c)s closed") % {"o": col.opened, "c": col.closed}
        for col in chart.columns
    )
    figures = "".join(
        f'<tr><th scope="row">{e(col.label)}</th><td class="num">{col.opened}</td>'
        f'<td class="num">{col.closed}</td></tr>'
        for col in chart.columns
    )
    opened, closed = e(gettext("Opened")), e(gettext("Closed"))
    html = (
        '<figure class="card chart-card" aria-labelledby="c-months-title">\n'
        f'    <h3 id="c-months-title">{e(gettext("Cases opened and closed per month"))}</h3>\n'
        f'    <svg class="chart" width="{chart.width}" height="176" '
        f'viewBox="0 -16 {chart.width} 176" role="img" '
        'aria-labelledby="c-months-title c-months-text" focusable="false">\n'
        f"      {''.join(columns)}\n"
        "    </svg>\n"
        '    <p class="stage-bar-legend"><span><span class="swatch swatch-opened" '
        f'aria-hidden="true"></span>{opened}</span> <span><span class="swatch swatch-closed" '
        f'aria-hidden="true"></span>{closed}</span></p>\n'
        f'    <p class="visually-hidden" id="c-months-text">{said}</p>\n'
        f"    <details><summary>{e(gettext('Figures'))}</summary>\n"
        '      <table class="list figure-table"><thead><tr><th scope="col">'
        f'{e(gettext("Month"))}</th><th scope="col" class="num">{opened}</th>'
        f'<th scope="col" class="num">{closed}</th></tr></thead>\n'
        f"      <tbody>{figures}</tbody></table>\n"
        "    </details>\n"
        "  </figure>"
    )
    return mark_safe(html)  # noqa: S308  # nosec B308 B703  # escaped above
