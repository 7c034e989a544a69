"""The case page's per-person lists of the remedies section, written out in Python as its
people and timeline are (cases/tables.py): the balances' rows and the apology letters' items.

Each names every affected person of the case (20 on the benchmark's big case), and a
template resolves, filters and escapes each value of each one. The text is what the template
loops they replace (remedies/overview.html) rendered, byte for byte;
tests/remedies/test_tables.py renders those loops (kept there) beside these and compares them.
"""

from collections.abc import Iterable

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from cases.tables import _escape
from cases.templatetags.tadasu import jdate, row_reverser, yen


def balance_rows_html(balances: Iterable) -> SafeString:
    """The rows of the balance per person (ledger.Balance), or the row saying there is no
    one."""
    e = _escape
    words: dict[str, str] = {}
    rows = []
    for balance in balances:
        status = balance.status
        word = words.get(status)
        if word is None:
            text = {"owed": "Still owed", "excess": "Holds an excess"}.get(status, "Settled")
            css = status if status in ("owed", "excess") else "settled"
            word = words[status] = f'<span class="{css}">{e(gettext(text))}</span>'
        rows.append(
            f'\n    <tr><th scope="row">{e(balance.party.label)}</th>'
            f'<td class="num">{e(yen(balance.amount))}</td>\n'
            f"      <td>{word}</td></tr>\n    "
        )
    if not rows:
        empty = e(gettext("No affected people recorded yet."))
        return mark_safe(f'<tr><td colspan="3" class="empty">{empty}</td></tr>\n    ')  # noqa: S308  # nosec B308 B703  # escaped
    return mark_safe("".join(rows))  # noqa: S308  # nosec B308 B703  # escaped above


def apology_items_html(apologies: Iterable[dict], *, case, can_edit: bool) -> SafeString:
    """The items of the apology letters' list: per person, the letters issued or sent, or
    the way to issue one (remedies.selectors._apologies)."""
    e = _escape
    no_one = no_letter = issue = new_document_url = delivery_url = None
    items = []
    for apology in apologies:
        party = apology["party"]
        label = e(party.label)
        letters = apology["letters"]
        if letters:
            parts = []
            for i, letter in enumerate(letters):
                if letter.document:
                    issued = gettext("letter %(number)s issued") % {"number": e(letter.number)}
                    if letter.delivery:
                        sent = gettext("sent (%(how)s) on %(day)s") % {
                            "how": e(letter.get_delivery_display()),
                            "day": e(jdate(letter.sent_on)),
                        }
                    else:
                        sent = (
                            f'<span class="muted">{e(gettext("sending not yet recorded"))}</span>'
                        )
                    change = ""
                    if can_edit:
                        if delivery_url is None:
                            delivery_url = row_reverser(
                                "remedies:letter_delivery", "letter_id", ref=case.reference
                            )
                        what = (
                            gettext("Change the sending record")
                            if letter.delivery
                            else gettext("Record the sending")
                        )
                        change = (
                            f'<a href="{e(delivery_url(letter.pk))}">{e(what)}'
                            f'<span class="visually-hidden"> {label}</span></a>'
                        )
                    text = f"{issued}\n          · {sent}\n          {change}\n        "
                else:
                    text = gettext("a letter made outside Tadasu was sent on %(day)s") % {
                        "day": e(jdate(letter.sent_on))
                    }
                last = i == len(letters) - 1
                parts.append(f"\n        {text}{'' if last else '; '}\n      ")
            inner = "".join(parts)
        elif not party.identified:
            if no_one is None:
                no_one = e(gettext("not identified yet: there is no one to address"))
            inner = f'\n        <span class="muted">{no_one}</span>\n        \n      '
        else:
            if no_letter is None:
                no_letter = e(gettext("no apology letter issued yet"))
            issue_link = ""
            if can_edit:
                if new_document_url is None:
                    new_document_url = e(
                        reverse("remedies:document_new", kwargs={"ref": case.reference})
                    )
                    issue = e(gettext("Issue the apology letter"))
                issue_link = (
                    f'<a href="{new_document_url}?kind=apology&amp;party={e(party.pk)}">{issue}'
                    f'<span class="visually-hidden"> {label}</span></a>'
                )
            inner = (
                f'\n        <span class="waiting">{no_letter}</span>'
                f"\n          {issue_link}\n      "
            )
        items.append(
            f'\n    <li id="apology-{e(party.pk)}"><strong>{label}</strong>:'
            f"\n      {inner}\n    </li>\n    "
        )
    return mark_safe("".join(items))  # noqa: S308  # nosec B308 B703  # escaped above


def stage_path_html(case) -> SafeString:
    """The items of the stage panel's path of stages, the case's own marked current."""
    e = _escape
    items = []
    for value, label in case.STAGE_PATH:
        mark = '"current" aria-current="step"' if value == case.stage else '""'
        items.append(f"\n    <li class={mark}>{e(label)}</li>\n    ")
    return mark_safe("".join(items))  # noqa: S308  # nosec B308 B703  # escaped above


def stage_bar_html(bars: Iterable, total_days: int) -> SafeString:
    """The stage panel's figure of the days spent in each stage (stage_history.bar)."""
    e = _escape
    caption = ngettext(
        "Days spent in each stage (%(n)s day in all)",
        "Days spent in each stage (%(n)s days in all)",
        total_days,
    ) % {"n": e(total_days)}
    to_today = None
    rects, items = [], []
    for b in bars:
        span = b.span
        stage, label, days = e(span.stage), e(span.label), span.days
        current = " bar-current" if span.current else ""
        rects.append(
            f'<rect x="{b.x:.3f}" y="0" width="{b.width:.3f}" height="6" '
            f'class="bar-{stage}{current}"><title>{label}: {e(days)}</title></rect>'
        )
        if span.current and to_today is None:
            to_today = gettext(" to today")
        spent = ngettext("%(n)s day", "%(n)s days", days) % {"n": e(days)}
        items.append(
            f'<li><span class="swatch bar-{stage}" aria-hidden="true"></span>{label}: '
            f"{e(jdate(span.start))}{to_today if span.current else ''} — {spent}</li>"
        )
    return mark_safe(  # noqa: S308  # nosec B308 B703  # escaped above
        f'<figure class="stage-bar">\n    <figcaption>{caption}</figcaption>\n'
        '    <svg viewBox="0 0 100 6" preserveAspectRatio="none" role="img" '
        'aria-labelledby="stage-bar-text" focusable="false">\n'
        f"      {''.join(rects)}\n    </svg>\n"
        '    <ol class="stage-bar-legend" id="stage-bar-text">\n'
        f"      {''.join(items)}\n    </ol>\n  </figure>"
    )
