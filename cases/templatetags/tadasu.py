from datetime import date

from django import template
from django.utils import formats
from django.utils.translation import get_language

from cases.wareki import wareki

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
    if value is None:
        return ""
    return f"{value:,}円" if (get_language() or "ja").startswith("ja") else f"¥{value:,}"


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
