"""What each role may see in clear of an affected person's details (the audited "Show").

One table, read across: the role, whether the case is still open, what may be shown.

    role          open case                      closed or withdrawn case
    city staff    contact and accounts           nothing (a manager or auditor may)
    manager       contact and accounts           contact and accounts, with a reason
    auditor       contact and accounts           contact and accounts, with a reason
    contractor    contact only (for visits)      nothing
                  (accounts not even masked)     (accounts not even masked)

Contractor staff visit people: they need a name, an address and a phone number, never an
account number or a payment ID. A closed case needs nobody's details for its work any more;
looking at them then is an exception that a manager or auditor answers for, with the reason
recorded in the audit entry. Name and kana are on the case page anyway; the table lists them
so the page of details reads whole.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import Case, Membership, Party, Role
from .permissions import CLOSED_STAGES

CONTACT = ("name", "name_kana", "phone", "address")
ACCOUNTS = ("bank_name", "account_number", "payment_service", "payment_account")

CONTRACTOR_WITHHELD = _(
    "Account numbers and payment IDs are not shown to contractor staff: a visit needs only "
    "the name, address and phone number."
)
CLOSED_WITHHELD = _(
    "This case is closed: only a manager or an auditor may see these details, giving a reason."
)


@dataclass(frozen=True)
class Rule:
    fields: tuple[str, ...]  # what may be shown in clear, in this order
    needs_reason: bool = False  # a reason is asked for and recorded in the audit entry
    withheld: Promise | str = ""  # why the rest is not offered, said on the page
    # The case page shows account numbers and payment IDs masked (＊＊＊＊1234) beside the
    # address; a role that never sees them in clear does not get their last digits either.
    masked_accounts: bool = True


#          (role,            closed): Rule
RULES: dict[tuple[str, bool], Rule] = {
    (Role.STAFF, False): Rule(CONTACT + ACCOUNTS),
    (Role.MANAGER, False): Rule(CONTACT + ACCOUNTS),
    (Role.AUDITOR, False): Rule(CONTACT + ACCOUNTS),
    (Role.CONTRACTOR, False): Rule(CONTACT, withheld=CONTRACTOR_WITHHELD, masked_accounts=False),
    (Role.STAFF, True): Rule((), withheld=CLOSED_WITHHELD),
    (Role.MANAGER, True): Rule(CONTACT + ACCOUNTS, needs_reason=True),
    (Role.AUDITOR, True): Rule(CONTACT + ACCOUNTS, needs_reason=True),
    (Role.CONTRACTOR, True): Rule((), withheld=CLOSED_WITHHELD, masked_accounts=False),
}
NOTHING = Rule((), masked_accounts=False)


def rule_for(membership: Membership | None, case: Case) -> Rule:
    if membership is None:
        return NOTHING
    return RULES.get((membership.role, case.stage in CLOSED_STAGES), NOTHING)


# The details that are masked on the case page: a "Show" button is offered for a person
# only when the rule reveals at least one of them that is recorded.
HIDDEN = ("phone", "address", "account_number", "payment_account")


def offers_something(rule: Rule, party: Party) -> bool:
    return any(getattr(party, name) for name in rule.fields if name in HIDDEN)


def rows(rule: Rule, party: Party) -> list[tuple[str, str]]:
    """(label, value) of each detail the rule shows, for the page of details."""
    return [
        (str(Party._meta.get_field(name).verbose_name), getattr(party, name) or "")
        for name in rule.fields
    ]
