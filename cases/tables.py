"""The case page's two longest tables, written out in Python as the dashboard's are
(overview/tables.py): the affected people and the timeline's rows.

The case page is rendered afresh after every change in its city, and a template resolves,
filters and escapes each value of each row one by one: the big case's 20 people and 30
timeline entries were about a tenth of the page's Python. The text is what the template
loops they replace rendered, byte for byte (`cases/case_detail_body.html`'s people, and
`cases/timeline_table.html`'s rows, which the whole timeline's page shares);
tests/cases/test_tables.py renders the former loops (kept there) beside these and compares
them. Contact details are shown masked only, as the template showed them.
"""

from collections.abc import Iterable
from html import escape as _html_escape

from django.template.defaultfilters import linebreaksbr, truncatechars
from django.template.defaulttags import CsrfTokenNode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext

from .crypto import mask, mask_address
from .templatetags.tadasu import jdate, row_reverser


def _escape(value) -> str:
    """{{ value }}: what Django's conditional_escape gives (a safe text as it is, anything
    else as its text, escaped: Django's escape is html.escape)."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return _html_escape(str(value))


def _csrf_input(context) -> str:
    """What {% csrf_token %} writes in this context (the same for every row)."""
    return CsrfTokenNode().render(context)


def party_rows_html(context, parties: Iterable) -> SafeString:
    """The rows of the affected people's table (`party.can_reveal` set by the view); the
    context is the case page's (case, reveal_rule, can_edit, csrf_token)."""
    e = _escape
    case, rule, can_edit = context["case"], context["reveal_rule"], context.get("can_edit")
    masked_accounts = rule.masked_accounts
    not_identified = e(gettext("Not identified"))
    account, payment_id = e(gettext("Account")), e(gettext("Payment ID"))
    show, edit, identify = e(gettext("Show")), e(gettext("Edit")), e(gettext("Identify"))
    reveal_url = edit_url = None
    csrf = None
    rows = []
    for party in parties:
        label = e(party.label)
        if party.identified:
            who = e(party.name)
            if party.name_kana:
                who += f'<br><span class="kana">{e(party.name_kana)}</span>'
        else:
            who = (
                f'<span class="unidentified">{not_identified}</span> — '
                f"{e(party.identification_note)}"
            )
        phone = mask(party.phone) or "—"
        address = mask_address(party.address) or "—"
        accounts = ""
        if masked_accounts and (party.account_number or party.payment_account):
            accounts = '<br><span class="muted">'
            if party.account_number:
                accounts += f"{account} {e(mask(party.account_number))}"
            if party.payment_account:
                accounts += f" {payment_id} {e(mask(party.payment_account))}"
            accounts += "</span>"
        reveal = ""
        if party.can_reveal:
            if reveal_url is None:
                reveal_url = row_reverser("cases:party_reveal", "party_id", ref=case.reference)
                csrf = _csrf_input(context)
            reveal = (
                f'\n        <form method="post" action="{e(reveal_url(party.pk))}" '
                f'class="inline">{csrf}<button type="submit" class="small">{show}'
                f'<span class="visually-hidden"> {label}</span></button></form>'
            )
        change = ""
        if can_edit:
            if edit_url is None:
                edit_url = row_reverser("cases:party_edit", "party_id", ref=case.reference)
            change = (
                f'<a href="{e(edit_url(party.pk))}">'
                f"{edit if party.identified else identify}"
                f'<span class="visually-hidden"> {label}</span></a>'
            )
        rows.append(
            f"\n    <tr>\n"
            f'      <th scope="row">{label}</th>\n'
            f"      <td>{who}</td>\n"
            f"      <td>{e(phone)}</td>\n"
            f"      <td>{e(address)}\n"
            f"        {accounts}</td>\n"
            f'      <td class="actions-cell">\n'
            f"        {reveal}\n"
            f"        {change}</td>\n"
            f"    </tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308  # nosec B308 B703  # escaped above


def timeline_rows_html(context, events: Iterable) -> SafeString:
    """The rows of a timeline's table, oldest first; the context is the page's (case,
    can_edit, csrf_token)."""
    e = _escape
    case, can_edit = context["case"], context.get("can_edit")
    same_day = e(gettext("Same day"))
    public, internal = e(pgettext("timeline", "For publication")), None
    make_internal = publish = None
    publish_url = csrf = None
    previous = object()  # {% ifchanged %}: the first row always shows its date
    rows = []
    for event in events:
        on = event.occurred_on
        day = e(jdate(on)) if on != previous else same_day
        previous = on
        if event.public:
            status = public
        else:
            if internal is None:
                internal = f"<strong>{e(pgettext('timeline', 'Internal'))}</strong>"
            status = internal
        form = ""
        if can_edit:
            if publish_url is None:
                publish_url = row_reverser("cases:timeline_publish", "event_id", ref=case.reference)
                csrf = _csrf_input(context)
                make_internal, publish = e(gettext("Make internal")), e(gettext("Publish"))
            form = (
                f'<form method="post" action="{e(publish_url(event.pk))}" class="inline">'
                f'{csrf}<input type="hidden" name="public" value="{"0" if event.public else "1"}">'
                f'<button type="submit" class="link">{make_internal if event.public else publish}'
                f'<span class="visually-hidden"> {e(jdate(on))} '
                f"{e(truncatechars(event.text, 20))}</span></button></form>"
            )
        rows.append(
            f"\n    <tr>\n"
            f'      <td class="nowrap">{day}</td>\n'
            f"      <td>{e(event.actor)}</td>\n"
            f"      <td>{linebreaksbr(event.text)}</td>\n"
            f'      <td class="nowrap">{status}\n'
            f"        {form}</td>\n"
            f"    </tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308  # nosec B308 B703  # escaped above
