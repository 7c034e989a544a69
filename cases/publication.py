"""Which 経過 entries are for publication, by default, per kind of entry.

The press release and letters print only entries for publication; the case report and the
screens show all of them, internal ones marked. System bookkeeping (a case registered by
the city itself, a document issued or downloaded) never becomes a 経過 line at all: it is
in the audit trail.
"""

# Internal unless staff decide otherwise: money postings (amounts are not published) and
# the notes staff attach to a posting or an agreement.
INTERNAL_BY_DEFAULT = (
    "ledger.",
    "agreement.",
    "note.",
)

# Written by hand: the clerk chooses; the form starts from "for publication".
HAND_ENTRY_DEFAULT = True


def public_by_default(action: str) -> bool:
    if not action:
        return HAND_ENTRY_DEFAULT
    return not action.startswith(INTERNAL_BY_DEFAULT)
