"""{% balance_rows %} and {% apology_items %}: the case page's per-person lists of the remedies
section, written out in Python (remedies/tables.py)."""

from django import template
from django.utils.safestring import SafeString

from remedies.tables import (
    apology_items_html,
    balance_rows_html,
    stage_bar_html,
    stage_path_html,
)

register = template.Library()


@register.simple_tag
def balance_rows(balances) -> SafeString:
    return balance_rows_html(balances)


@register.simple_tag
def apology_items(apologies, *, case, can_edit) -> SafeString:
    return apology_items_html(apologies, case=case, can_edit=can_edit)


@register.simple_tag
def stage_path(case) -> SafeString:
    return stage_path_html(case)


@register.simple_tag
def stage_bar(bars, total_days) -> SafeString:
    return stage_bar_html(bars, total_days)
