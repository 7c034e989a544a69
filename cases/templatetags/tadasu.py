import re
from datetime import date
from html import escape as _escape

from django import template
from django.urls import reverse
from django.utils import formats
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext, ngettext

from cases.wareki import wareki
from cases.wareki import yen as wareki_yen

register = template.Library()


@register.filter
def jdate(value: date | None) -> str:
    """令和5年3月16日 in Japanese; the locale's own date format otherwise."""
    if not value:
        return ""
    if (get_language() or "ja").startswith("ja"):
        return wareki(value)
    return formats.date_format(value, "DATE_FORMAT")


@register.filter
def yen(value: int | None) -> str:
    """Money on every page: 5,000円, a negative amount △5,000円 as Japanese tables write it
    (−¥5,000 in English)."""
    if value is None:
        return ""
    if (get_language() or "ja").startswith("ja"):
        return wareki_yen(value)
    return f"−¥{-value:,}" if value < 0 else f"¥{value:,}"


@register.filter
def control(field) -> str:
    """Render a form control tied to its hint and error (aria-describedby), DADS style."""
    described_by = []
    if field.help_text:
        described_by.append(f"{field.auto_id}_help")
    if field.errors:
        described_by.append(f"{field.auto_id}_error")
    attrs = {}
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    if field.errors:
        attrs["aria-invalid"] = "true"
    if field.field.required:
        attrs["aria-required"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def person(user) -> str:
    """A user's name as Japanese write it, family name first; the user name otherwise."""
    if user is None:
        return ""
    name = f"{user.last_name} {user.first_name}".strip()
    return name or user.username


@register.filter
def days_since(value: date | None) -> int:
    from django.utils import timezone

    return (timezone.localdate() - value).days if value else 0


@register.filter
def masked(value: str | None) -> str:
    from cases.crypto import mask

    return mask(value)


@register.filter
def masked_address(value: str | None) -> str:
    from cases.crypto import mask_address

    return mask_address(value)


@register.filter
def deadline(value) -> str:
    """A case's deadline as lists show it: 令和5年3月24日（あと3開庁日）; marked overdue with
    the stage and the days late (調査：3開庁日超過); or stopped while an agency is asked.

    A filter rather than an included template: lists show it on every row."""
    if not value:
        return mark_safe('<span class="muted">—</span>')  # nosec B308 B703  # a constant
    # Written with html.escape, not format_html: the same text (Django's escape is
    # html.escape), at a third of the cost on the rows of a list.
    if value.overdue:
        n = value.business_days_late
        late = ngettext(
            "%(stage)s: %(n)s business day late", "%(stage)s: %(n)s business days late", n
        ) % {"stage": value.stage_label, "n": n}
        return mark_safe(  # noqa: S308  # nosec B308 B703  # escaped
            f'<span class="badge overdue-badge">{_escape(gettext("Overdue"))}</span> '
            f'{_escape(jdate(value.due_on))}<span class="muted">（{_escape(late)}）</span>'
        )
    n = value.business_days_left
    if value.due_on is None:
        left = ngettext("%(n)s business day left", "%(n)s business days left", n) % {"n": n}
        stopped = gettext("Clock stopped: awaiting an agency")
        return mark_safe(  # noqa: S308  # nosec B308 B703  # escaped
            f'<span class="badge paused-badge">{_escape(stopped)}</span>'
            f'<span class="muted">（{_escape(left)}）</span>'
        )
    if n == 0:
        left = gettext("due today")
    else:
        left = ngettext("%(n)s business day left", "%(n)s business days left", n) % {"n": n}
    return mark_safe(  # noqa: S308  # nosec B308 B703  # escaped
        f'{_escape(jdate(value.due_on))}<span class="muted">（{_escape(left)}）</span>'
    )


@register.simple_tag
def error_summary(form=None, formset=None, row_label: str = "") -> list[tuple]:
    """The error summary's lines, (anchor or None, text): see cases/forms_base.py."""
    from cases.forms_base import error_summary_items

    return error_summary_items(form or None, formset or None, row_label=row_label)


# Stands for the row's id while a row URL is reversed: an id no table will reach.
_ROW = 987_654_321_987_654_321
# A text id put in the stand-in's place as it is: what a path converter and reverse()'s
# quoting leave unchanged.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@register.simple_tag(takes_context=True)
def row_url(context, viewname: str, row_arg: str, row_id: int, **kwargs) -> str:
    """{% url viewname row_arg=row_id **kwargs %} for the rows of a table, the same text:
    reversed once per template rendered, then each row's id put in the place of a
    stand-in. reverse() walks the URL patterns (about 40 µs a call); a table of 30 rows
    with a link or a form on each paid that 30 times. The id is an int, or a text of
    letters, digits, "-" and "_" (a case reference), which reverse() leaves as it is. Falls
    back to reverse() for any other id, or if the stand-in also shows in the other
    arguments."""
    urls = context.render_context.setdefault("row_urls", {})
    key = (viewname, row_arg, *sorted(kwargs.items()))
    parts = urls.get(key)
    if parts is None:
        stand_in = str(_ROW)
        url = reverse(viewname, kwargs={**kwargs, row_arg: _ROW})
        parts = urls[key] = tuple(url.split(stand_in)) if url.count(stand_in) == 1 else ()
    if parts and (type(row_id) is int or (type(row_id) is str and _PLAIN.fullmatch(row_id))):
        return f"{parts[0]}{row_id}{parts[1]}"
    return reverse(viewname, kwargs={**kwargs, row_arg: row_id})


def row_reverser(viewname: str, row_arg: str, **kwargs):
    """What `{% row_url %}` does, for rows written out in Python: reverse(viewname) once,
    then a function giving each row's URL (the same text as reverse() for that row's id)."""
    stand_in = str(_ROW)
    url = reverse(viewname, kwargs={**kwargs, row_arg: _ROW})
    parts = tuple(url.split(stand_in)) if url.count(stand_in) == 1 else ()

    def url_of(row_id) -> str:
        if parts and (type(row_id) is int or (type(row_id) is str and _PLAIN.fullmatch(row_id))):
            return f"{parts[0]}{row_id}{parts[1]}"
        return reverse(viewname, kwargs={**kwargs, row_arg: row_id})

    return url_of


@register.simple_tag(takes_context=True)
def party_rows(context, parties) -> str:
    """The case page's rows of affected people, written out in Python (cases/tables.py)."""
    from cases.tables import party_rows_html

    return party_rows_html(context, parties)


@register.simple_tag(takes_context=True)
def timeline_rows(context, events) -> str:
    """A timeline table's rows, written out in Python (cases/tables.py)."""
    from cases.tables import timeline_rows_html

    return timeline_rows_html(context, events)
