"""What export and import share: the case's and a party's fields as the file holds them,
which edit sets which field, how a value is written and read, and reference data by its
natural key (never in the file; a missing one stops the import)."""

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from cases.models import Agency, Case, Contractor, Municipality, Office, Party, Role, User
from cases.scoping import membership_of
from cases.services import CASE_FIELDS, PARTY_FIELDS
from cases.wareki import ERAS

FORMAT = "tadasu-cases"
VERSION = 2  # 2: issued documents (`documents`) and the `pdfs` header
READABLE = (1, 2)  # a version 1 file has no documents and imports as it always did
FIRST_WAREKI_DAY = ERAS[-1][0]  # 明治元年1月25日 (cases/wareki.py)


class InterchangeError(Exception):
    """A file that cannot be imported, or a case that cannot be exported faithfully."""

    def __init__(self, reason: str, *, case: str = "", item: str = "", field: str = ""):
        self.case, self.item, self.field, self.reason = case, item, field, reason
        where = [part for part in (case, item, f'field "{field}"' if field else "") if part]
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)


class _FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


_NOT_READ = object()  # _References: not in the cache


def _quote(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def check_header(document: Any) -> None:
    """A case file of this format and version, with a list of cases."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InterchangeError(f'not a Tadasu case file (expected "format": "{FORMAT}")')
    version = document.get("version")
    if isinstance(version, bool) or version not in READABLE:
        raise InterchangeError(
            f"version {_quote(version)} is not supported (expected "
            + " or ".join(str(v) for v in READABLE)
            + ")"
        )
    if not isinstance(document.get("cases"), list):
        raise InterchangeError('"cases" must be a list')


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# ---- which edit sets which field ---------------------------------------------------------
#
# The audit trail names the fields an edit changed, not the values it set, so the file
# holds each field's value as it is now and each edit lists the fields it set. The replay
# sets a field at the last edit that names it and passes every other field to case_open or
# party_add. Where that would leave a field blank when something needs it (a stage step,
# the service's own checks), the field is set earlier and the edit no longer names it.
# Export and import share these two functions, so an exported file is a fixed point.

_EMPTY = {"contractor": None, "assignee": None, "occurred_on": None, "identified_on": None}
_SET_AT_OPEN = ("office", "kind", "discovered_on")  # case_open needs them
_NEEDED_BY_STEP = {"cause_category": "refer", "prevention": "close"}


def _last_naming(updates: list[tuple[int, list[str]]]) -> dict[str, int]:
    """Each field's last edit among `updates` (its place in the list). A name that is not
    text names no field (the edit's own check refuses it)."""
    return {name: i for i, (_, names) in enumerate(updates) for name in names if type(name) is str}


def case_field_placement(
    final: dict,
    updates: list[tuple[int, list[str]]],
    transitions: list[tuple[int, str]],
    held_open: dict,
) -> list[list[str]]:
    """The fields each case edit sets. `updates` and `transitions` are (order, …) pairs;
    `held_open` is what case_open leaves in a field it is not given (for a contractor's
    report, the company and no assignee)."""
    placed: list[list[str]] = [[] for _ in updates]
    last = _last_naming(updates)
    for name in CASE_FIELDS:
        at = last.get(name)
        if at is None or name in _SET_AT_OPEN:
            continue
        if final.get(name) == held_open.get(name, _EMPTY.get(name, "")):
            continue  # the edit would change nothing
        step = _NEEDED_BY_STEP.get(name)
        if step and any(s == step and order < updates[at][0] for order, s in transitions):
            continue  # a step before that edit needed the value: set it when opening
        placed[at].append(name)
    return placed


def party_field_placement(final: dict, updates: list[tuple[int, list[str]]]) -> list[list[str]]:
    """The fields each party edit sets; `identified` among them means the party was added
    unidentified (B氏) and identified by that edit."""
    placed: list[set[str]] = [set() for _ in updates]
    last = _last_naming(updates)
    last = {name: last.get(name) for name in PARTY_FIELDS}
    identified = final.get("identified", True) is True
    identified_at = last["identified"] if identified else None
    if identified_at is not None:
        placed[identified_at].add("identified")
    for name in ("name", "name_kana", *CONTACT_FIELDS, "identified_on"):
        at = last[name]
        if identified_at is not None:
            # Added unidentified, so blank until then; the name and the date are needed
            # when the person is identified.
            if at is None or (name in ("name", "identified_on") and at > identified_at):
                at = identified_at
        elif name == "name" and identified:
            at = None  # an identified person is added with a name
        if at is not None and final.get(name) not in ("", None):
            placed[at].add(name)
    at = last["identification_note"]
    # While unidentified the note is required, so such a party is added with it.
    if at is not None and identified_at is None and identified and final.get("identification_note"):
        placed[at].add("identification_note")
    return [[name for name in PARTY_FIELDS if name in fields] for fields in placed]


# Contact and account details of a person: encrypted at rest, and in the file only when the
# export is asked for personal data (then in clear); an import takes a party without them.
CONTACT_FIELDS = (
    "phone",
    "address",
    "bank_name",
    "account_number",
    "payment_service",
    "payment_account",
)


# ---- the fields --------------------------------------------------------------------------


def case_fields(case: Case) -> dict:
    """The case's own fields as the file holds them (reference data by natural key)."""
    return {
        "reference": case.reference,
        "municipality": case.municipality.code,
        "office": case.office.name,
        "contractor": case.contractor.name if case.contractor_id else None,
        "kind": case.kind,
        "summary": case.summary,
        "occurred_on": _iso(case.occurred_on),
        "discovered_on": _iso(case.discovered_on),
        "discovery": case.discovery,
        "cause_category": case.cause_category,
        "cause_text": case.cause_text,
        "prevention": case.prevention,
        "assignee": case.assignee.username if case.assignee_id else None,
        "reported_by_contractor": case.reported_by_contractor,
        "stage": case.stage,
    }


def party_fields(party: Party, balance: int) -> dict:
    return {
        "label": party.label,
        "identified": party.identified,
        "name": party.name,
        "name_kana": party.name_kana,
        **{name: getattr(party, name) for name in CONTACT_FIELDS},
        "identification_note": party.identification_note,
        "identified_on": _iso(party.identified_on),
        "balance": balance,
    }


def _held_open(opener: User | None) -> dict:
    """What case_open puts in the fields it decides itself: a contractor's report names the
    company and leaves the assignee to the city."""
    membership = membership_of(opener)
    if membership is not None and membership.role == Role.CONTRACTOR:
        return {"contractor": membership.contractor.name, "assignee": None}
    return {}


# ---- reading the file --------------------------------------------------------------------


_MISSING = object()


def _value(item: Any, name: str, default: Any = _MISSING) -> Any:
    if not isinstance(item, dict):
        raise _FieldError("", "must be an object")
    if name in item:
        return item[name]
    if default is _MISSING:
        raise _FieldError(name, "is missing")
    return default


def _text(item: Any, name: str, default: Any = _MISSING) -> str:
    value = _value(item, name, default)
    if not isinstance(value, str):
        raise _FieldError(name, "must be text")
    return value


def _date(item: Any, name: str, *, optional: bool = False) -> date | None:
    value = _value(item, name, None if optional else _MISSING)
    if value is None and optional:
        return None
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _FieldError(name, f"{_quote(value)} is not a date (YYYY-MM-DD)") from None
    # Every page and document shows its dates in wareki, which begins with 明治: an earlier
    # date, imported, would break each of them (the forms refuse it: writable_in_wareki).
    if day < FIRST_WAREKI_DAY:
        raise _FieldError(
            name,
            f"{_quote(value)} is before {FIRST_WAREKI_DAY.isoformat()} (the first day of Meiji)",
        )
    return day


def _int(item: Any, name: str, default: Any = _MISSING) -> int:
    value = _value(item, name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(name, f"{_quote(value)} is not a whole number")
    return value


def _bool(item: Any, name: str, default: Any = _MISSING) -> bool:
    value = _value(item, name, default)
    if not isinstance(value, bool):
        raise _FieldError(name, "must be true or false")
    return value


def _list(item: Any, name: str) -> list:
    value = _value(item, name, [])
    if not isinstance(value, list):
        raise _FieldError(name, "must be a list")
    return value


def _known_fields(update: Any, known: tuple[str, ...]) -> None:
    unknown = [name for name in _list(update, "fields") if name not in known]
    if unknown:
        raise _FieldError("fields", f"{_quote(unknown[0])} cannot be edited")


class _References:
    """Reference data by natural key, each looked up once."""

    def __init__(self):
        self.cache: dict[tuple, Any] = {}

    def _get(self, model, field: str, what: Callable[[], str], **lookup) -> Any:
        # Keyed in each method's order of lookups (most actions name their user: read here
        # every time); `what` names it in the refusal, written only then.
        key = (model, *lookup.items())
        found = self.cache.get(key, _NOT_READ)
        if found is _NOT_READ:
            try:
                found = self.cache[key] = model.objects.get(**lookup)
            except model.DoesNotExist:
                raise _FieldError(field, f"{what()} is not in this database") from None
        return found

    def user(self, username: Any, field: str = "by") -> User:
        if not isinstance(username, str):
            raise _FieldError(field, "must be a username")
        return self._get(User, field, lambda: f"user {_quote(username)}", username=username)

    def municipality(self, code: Any) -> Municipality:
        return self._get(
            Municipality, "municipality", lambda: f"municipality {_quote(code)}", code=code
        )

    def office(self, municipality: Municipality, name: Any) -> Office:
        return self._get(
            Office,
            "office",
            lambda: f"office {_quote(name)} of {municipality.code}",
            municipality=municipality,
            name=name,
        )

    def contractor(self, name: Any) -> Contractor:
        if not isinstance(name, str):
            raise _FieldError("contractor", "must be a name")
        return self._get(Contractor, "contractor", lambda: f"contractor {_quote(name)}", name=name)

    def agency(self, name: Any) -> Agency:
        if not isinstance(name, str):
            raise _FieldError("agencies", "must be a list of names")
        return self._get(Agency, "agencies", lambda: f"agency {_quote(name)}", name=name)
