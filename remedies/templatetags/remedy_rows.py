"""{% balance_rows %} and {% apology_items %}: the case page's per-person lists of the remedies
section, written out in Python (remedies/tables.py)."""

from django import template
from django.utils.safestring import SafeString

from remedies.tables import apology_items_html, balance_rows_html

register = template.Library()


@register.simple_tag
def balance_rows(balances) -> SafeString:
    return balance_rows_html(balances)


@register.simple_tag
def apology_items(apologies, *, case, can_edit) -> SafeString:
    return apology_items_html(apologies, case=case, can_edit=can_edit)
