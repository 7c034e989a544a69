"""What an audit entry says, in words: the name of each action and a sentence made from its
data, for the audit trail page and its CSV (cases/audit_views.py).

`ACTIONS` is the one table of every action code the code base writes (tests/cases/
test_audit_describe.py reads every `audit_log(...)` call and fails on a code missing here).
Each action has a name and, where its data says more than the name, a sentence.

Entries are masked when written (cases/services.py `_masked`); the sentences mask the
personal fields again, as the case page shows them, so that an entry written before a
masking rule existed does not show more than the page would. Data a sentence does not
know is shown as 「項目: 値」 pairs, never as Python's repr.

Other apps name their own actions (remedies/audit_actions.py, jobs/audit_actions.py,
registered from their apps.py): cases/ never imports remedies/ (DESIGN.md, Boundaries).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from .crypto import mask, mask_address
from .models import AuditEntry, Case, CaseKind, DataKind, Party, Stage

Data = dict[str, Any]

# Keys whose values are personal data wherever they appear: masked as the case page does.
# ("name" alone is a person's only on a Party: an office or a contractor has a name too.)
_NAMES = frozenset({"name_kana", "first_name", "last_name", "sender_name"})
_NUMBERS = frozenset(
    {
        "phone",
        "email",
        "bank_name",
        "account_number",
        "payment_service",
        "payment_account",
        "payment_account_number",
        "designated_account",
        "contact",
    }
)


def masked(key: str, value: Any, *, person: bool = False) -> Any:
    """A value of a personal field as the case page shows it; other values unchanged.
    `person`: the value is a field of a Party, whose "name" is a person's."""
    if value in (None, "") or not isinstance(value, str):
        return value
    if key == "address":
        return mask_address(value)
    if key in _NAMES or (person and key == "name"):
        return value[:1] + "＊＊"
    if key in _NUMBERS:
        return mask(value)
    if key == "contact_people":
        return "＊＊"
    return value


def yen(amount: Any) -> str:
    """5,000円; a negative amount with △, as city documents write it."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        return str(amount)
    if amount < 0:
        return _("△%(amount)s yen") % {"amount": f"{-amount:,}"}
    return _("%(amount)s yen") % {"amount": f"{amount:,}"}


def sep() -> str:
    return pgettext("list separator", ", ")


def choice(choices: type, value: Any) -> str:
    """The label of a choice; the value itself if the choice is gone."""
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def stage_name(value: Any) -> str:
    return choice(Stage, value)


def joined(values: Any) -> str:
    if isinstance(values, (list, tuple)):
        return sep().join(plain(v) for v in values)
    return plain(values)


def plain(value: Any, key: str = "", *, person: bool = False) -> str:
    """A value as a person reads it: no brackets, no quotes, no None."""
    value = masked(key, value, person=person)
    if value is None or value == "":
        return _("none")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        return joined(value)
    if isinstance(value, dict):
        return sep().join(f"{_key_label(k)}: {plain(v, k)}" for k, v in value.items())
    return str(value)


# Labels of the keys that entries hold, for the 「項目: 値」 fallback.
KEY_LABELS: dict[str, Promise] = {
    "party": gettext_lazy("person"),
    "recipient": gettext_lazy("person"),
    "label": gettext_lazy("person"),
    "amount": gettext_lazy("amount"),
    "delta": gettext_lazy("amount"),
    "total": gettext_lazy("amount"),
    "method": gettext_lazy("method"),
    "side": gettext_lazy("borne by"),
    "kind": gettext_lazy("kind"),
    "number": gettext_lazy("document number"),
    "version": gettext_lazy("version"),
    "sha256": gettext_lazy("SHA-256"),
    "reason": gettext_lazy("reason"),
    "note": gettext_lazy("note"),
    "fields": gettext_lazy("items"),
    "changes": gettext_lazy("changes"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "from": gettext_lazy("from"),
    "to": gettext_lazy("to"),
    "rows": gettext_lazy("rows"),
    "cases": gettext_lazy("cases"),
    "format": gettext_lazy("format"),
    "case": gettext_lazy("case"),
    "action": gettext_lazy("action"),
    "username": gettext_lazy("user name"),
    "object": gettext_lazy("object"),
    "via": gettext_lazy("via"),
    "values": gettext_lazy("values"),
    "password": gettext_lazy("password"),
    "message": gettext_lazy("message"),
    "also_deleted": gettext_lazy("also deleted"),
    "day": gettext_lazy("day"),
    "name": gettext_lazy("name"),
    "address": gettext_lazy("address"),
    "phone": gettext_lazy("phone"),
    "account_number": gettext_lazy("account number"),
}


def _key_label(key: str) -> str:
    return str(KEY_LABELS.get(key, key))


def pairs(data: Data, *, skip: tuple[str, ...] = ()) -> str:
    """The fallback: each item as 「項目: 値」, personal values masked."""
    return " / ".join(f"{_key_label(k)}: {plain(v, k)}" for k, v in data.items() if k not in skip)


def field_names(model: type, names: Any) -> str:
    """Field names as the forms label them (発生日、原因), unknown names as they are."""
    shown = []
    for name in names if isinstance(names, (list, tuple)) else [names]:
        try:
            shown.append(str(model._meta.get_field(name).verbose_name))
        except FieldDoesNotExist:
            shown.append(_key_label(str(name)))
    return sep().join(shown)


def _changes(model: type | None, changes: Any) -> str:
    """{"name": ["山＊＊", "田＊＊"]} as 「氏名: 山＊＊ → 田＊＊」, values masked."""
    if not isinstance(changes, dict):
        return plain(changes)
    parts = []
    for name, pair in changes.items():
        shown = field_names(model, name) if model is not None else _key_label(name)
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            before, after = (plain(v, name, person=model is Party) for v in pair)
            parts.append(f"{shown}: {before} → {after}")
        else:
            parts.append(f"{shown}: {plain(pair, name, person=model is Party)}")
    return " / ".join(parts)


# ---- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    code: str
    label: Promise
    sentence: Callable[[Data], str] | None = None


ACTIONS: dict[str, Action] = {}


def register(code: str, label: Promise, sentence: Callable[[Data], str] | None = None) -> None:
    """Name an action code (and say how its data reads). Other apps register theirs when
    they start (remedies/audit_actions.py), so that cases/ never imports them."""
    if code in ACTIONS:
        raise ValueError(f"audit action {code} is registered twice")
    ACTIONS[code] = Action(code, label, sentence)


def action(code: str, label: Promise) -> Callable:
    """register() as a decorator of the sentence."""

    def decorate(sentence: Callable[[Data], str]) -> Callable[[Data], str]:
        register(code, label, sentence)
        return sentence

    return decorate


def plain_action(code: str, label: Promise) -> None:
    """An action whose name says it all."""
    register(code, label)


# Log-in and the trail itself.
plain_action("tadasu.auth.login", gettext_lazy("Logged in"))
plain_action("tadasu.auth.logout", gettext_lazy("Logged out"))


@action("tadasu.auth.login_failed", gettext_lazy("Failed log-in"))
def _login_failed(d: Data) -> str:
    return _("Log-in failed with the user name %(username)s") % {
        "username": plain(d.get("username"))
    }


@action("tadasu.audit.exported", gettext_lazy("Audit trail exported"))
def _audit_exported(d: Data) -> str:
    used = {k: v for k, v in d.items() if v not in (None, "")}
    if not used:
        return _("Exported the whole audit trail")
    return _("Exported the audit trail (%(filters)s)") % {"filters": pairs(used)}


# The case.
@action("tadasu.case.opened", gettext_lazy("Case opened"))
def _case_opened(d: Data) -> str:
    return _("Opened case %(reference)s (%(kind)s)") % {
        "reference": d.get("reference", ""),
        "kind": choice(CaseKind, d.get("kind")),
    }


@action("tadasu.case.changed", gettext_lazy("Case changed"))
def _case_changed(d: Data) -> str:
    return _("Changed %(fields)s") % {"fields": field_names(Case, d.get("fields", []))}


@action("tadasu.case.assigned", gettext_lazy("Assignee set"))
def _case_assigned(d: Data) -> str:
    return _("Assigned the case to %(user)s") % {"user": plain(d.get("assignee"))}


@action("tadasu.case.exported", gettext_lazy("Case list exported"))
def _case_exported(d: Data) -> str:
    return _("Exported the case list (%(format)s, %(rows)s rows)") % {
        "format": str(d.get("format", "")).upper(),
        "rows": d.get("rows", 0),
    }


# The people and the links between them.
@action("tadasu.party.added", gettext_lazy("Person added"))
def _party_added(d: Data) -> str:
    if d.get("identified") is False:
        return _("Added %(party)s (not yet identified)") % {"party": plain(d.get("label"))}
    return _("Added %(party)s") % {"party": plain(d.get("label"))}


@action("tadasu.party.changed", gettext_lazy("Person changed"))
def _party_changed(d: Data) -> str:
    return _("Changed %(party)s: %(changes)s") % {
        "party": plain(d.get("label")),
        "changes": _changes(Party, d.get("changes", {})),
    }


@action("tadasu.party.revealed", gettext_lazy("Personal details shown"))
def _party_revealed(d: Data) -> str:
    values = {
        "party": plain(d.get("label")),
        "fields": field_names(Party, d.get("fields", [])),
    }
    if d.get("purpose") == "edit":
        text = _("Showed the details of %(party)s to edit them (%(fields)s)") % values
    else:
        text = _("Showed the details of %(party)s (%(fields)s)") % values
    if d.get("reason"):
        text += _(" (reason: %(note)s)") % {"note": d["reason"]}
    return text


@action("tadasu.misregistration.added", gettext_lazy("Misregistration recorded"))
def _link_added(d: Data) -> str:
    return _("Recorded that the %(data)s of %(source)s was registered to %(target)s") % {
        "data": choice(DataKind, d.get("data_kind")),
        "source": plain(d.get("source")),
        "target": plain(d.get("target")),
    }


@action("tadasu.misregistration.corrected", gettext_lazy("Misregistration corrected"))
def _link_corrected(d: Data) -> str:
    after = d.get("after") or {}
    text = _("Recorded the correction on %(on)s") % {"on": on_date(after.get("corrected_on"))}
    if after.get("correction_note"):
        text += _(" (%(details)s)") % {"details": after["correction_note"]}
    return text


@action("tadasu.misregistration.excused", gettext_lazy("Misregistration left uncorrected"))
def _link_excused(d: Data) -> str:
    return _("Recorded why it cannot be corrected: %(reason)s") % {"reason": plain(d.get("reason"))}


# The 経過 and attachments.
@action("tadasu.timeline.added", gettext_lazy("Progress entry added"))
def _timeline_added(d: Data) -> str:
    if d.get("public"):
        return _("Added an entry to the progress (for publication)")
    return _("Added an entry to the progress (internal)")


plain_action("tadasu.timeline.published", gettext_lazy("Progress entry marked for publication"))
plain_action("tadasu.timeline.made_internal", gettext_lazy("Progress entry made internal"))


@action("tadasu.attachment.added", gettext_lazy("Attachment added"))
def _attachment_added(d: Data) -> str:
    size = d.get("size")
    kb = f"{max(1, round(size / 1024)):,} KB" if isinstance(size, int) else plain(size)
    return _("Added an attachment (%(type)s, %(size)s)") % {
        "type": plain(d.get("content_type")),
        "size": kb,
    }


plain_action("tadasu.attachment.downloaded", gettext_lazy("Attachment downloaded"))


# Reception sheets (receptions/).
@action("tadasu.reception.sheet_imported", gettext_lazy("Reception sheet imported"))
def _sheet_imported(d: Data) -> str:
    # No file name: it may name a person.
    return _("Imported a reception sheet of %(rows)s rows") % {"rows": d.get("rows", 0)}


@action("tadasu.reception.checklist_recorded", gettext_lazy("Desk checklist recorded"))
def _checklist(d: Data) -> str:
    return _("Recorded the completion checklist of reception %(reception)s") % {
        "reception": d.get("reception", "")
    }


@action("tadasu.reception.counterpart_added", gettext_lazy("Person added from a reception"))
def _counterpart(d: Data) -> str:
    return _("Added %(party)s from reception %(reception)s (candidate %(rank)s)") % {
        "party": plain(d.get("party")),
        "reception": d.get("reception", ""),
        "rank": d.get("rank", ""),
    }


# The municipality's settings and reminders (overview/, cases/setup.py).
@action("tadasu.municipality.set_up", gettext_lazy("Municipality set up"))
def _set_up(d: Data) -> str:
    return _("Set up %(name)s with %(desks)s desks and %(users)s users") % {
        "name": plain(d.get("name")),
        "desks": len(d.get("desks") or []),
        "users": len(d.get("users") or []),
    }


@action("tadasu.settings.deadlines", gettext_lazy("Stage deadlines changed"))
def _deadlines(d: Data) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    changed = [
        _("%(stage)s: %(before)s → %(after)s days")
        % {"stage": stage_name(s), "before": before.get(s, "—"), "after": days}
        for s, days in after.items()
        if before.get(s) != days
    ]
    return _("Changed the deadlines: %(changes)s") % {"changes": sep().join(changed) or _("none")}


@action("tadasu.settings.closed_day.added", gettext_lazy("Closed day added"))
def _closed_day_added(d: Data) -> str:
    return _("Added the closed day %(day)s (%(name)s)") % {
        "day": on_date(d.get("day")),
        "name": plain(d.get("name")),
    }


@action("tadasu.settings.closed_day.removed", gettext_lazy("Closed day removed"))
def _closed_day_removed(d: Data) -> str:
    return _("Removed the closed day %(day)s (%(name)s)") % {
        "day": on_date(d.get("day")),
        "name": plain(d.get("name")),
    }


@action("tadasu.reminders.sent", gettext_lazy("Deadline reminders sent"))
def _reminders(d: Data) -> str:
    return _("Sent %(mails)s reminder mails about %(cases)s cases") % {
        "mails": d.get("mails", 0),
        "cases": d.get("cases", 0),
    }


# The admin site (cases/admin_audit.py): tadasu.admin.<model>.<verb>, for any model.
ADMIN_PREFIX = "tadasu.admin."
ADMIN_VERBS: dict[str, Promise] = {
    "added": gettext_lazy("added"),
    "changed": gettext_lazy("changed"),
    "deleted": gettext_lazy("deleted"),
}
ADMIN_LABEL = gettext_lazy("Changed in the administration site")


@cache
def _model_named(model_name: str) -> type | None:
    for model in apps.get_models():
        if model._meta.model_name == model_name:
            return model
    return None


def _admin_parts(code: str) -> tuple[type | None, str] | None:
    model_name, _dot, verb = code.removeprefix(ADMIN_PREFIX).rpartition(".")
    if not code.startswith(ADMIN_PREFIX) or verb not in ADMIN_VERBS:
        return None
    return _model_named(model_name), verb


def _admin_sentence(code: str, d: Data) -> str:
    model, verb = _admin_parts(code) or (None, "changed")
    text = _("%(model)s “%(object)s” %(verb)s in the administration site") % {
        "model": str(model._meta.verbose_name) if model else code,
        "object": plain(d.get("object")),
        "verb": ADMIN_VERBS[verb],
    }
    if d.get("changes"):
        text += ": " + _changes(model, d["changes"])
    elif d.get("values"):  # what was added or deleted
        text += ": " + _changes(model, d["values"])
    if d.get("password"):
        text += " / " + str(PASSWORD_NOTES.get(d["password"], d["password"]))
    return text


# What cases/admin_audit.py writes of a password (never the password or its hash).
PASSWORD_NOTES: dict[str, Promise] = {
    "password set": gettext_lazy("password set"),
    "password changed": gettext_lazy("password changed"),
    "password log-in disabled": gettext_lazy("password log-in disabled"),
}


# ---- facts an entry's data lacks ------------------------------------------------------------

# By object type, a function that looks up, for a page of entries at once, what their
# sentences need and their data does not hold (to whom a document was issued).
Lookup = Callable[[list[str]], dict[str, Data]]
_LOOKUPS: dict[str, Lookup] = {}


def register_lookup(object_type: str, lookup: Lookup) -> None:
    """`lookup(object ids)` answers {object id: extra data} in one query."""
    _LOOKUPS[object_type] = lookup


def lookups(entries: Iterable[AuditEntry]) -> dict[tuple[str, str], Data]:
    """The extra data of these entries, one query per object type that has a lookup."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.object_type in _LOOKUPS and entry.object_id:
            wanted[entry.object_type].add(entry.object_id)
    found: dict[tuple[str, str], Data] = {}
    for object_type, ids in wanted.items():
        for object_id, extra in _LOOKUPS[object_type](sorted(ids)).items():
            found[(object_type, str(object_id))] = extra
    return found


# ---- reading ----------------------------------------------------------------------------------


def label_of(code: str) -> str:
    """The name of an action (「段階の変更」…); the code itself for one no longer written."""
    found = ACTIONS.get(code)
    if found is not None:
        return str(found.label)
    parts = _admin_parts(code)
    if parts is not None:
        model, verb = parts
        name = str(model._meta.verbose_name) if model else code
        return _("%(model)s %(verb)s (administration)") % {"model": name, "verb": ADMIN_VERBS[verb]}
    return code


def is_known(code: str) -> bool:
    return code in ACTIONS or (_admin_parts(code) or (None, None))[0] is not None


def describe(code: str, data: Data | None, extra: Data | None = None) -> str:
    """The sentence of an entry: made from its data (and what `lookups` found for it),
    personal values masked."""
    data = data if isinstance(data, dict) else {"data": data}
    if extra:
        data = {**data, **extra}
    if code.startswith(ADMIN_PREFIX):
        return _admin_sentence(code, data)
    found = ACTIONS.get(code)
    if found is not None and found.sentence is not None:
        try:
            return found.sentence(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an entry of an older shape: its items as they are
    return pairs(data)


def choices() -> list[tuple[str, str]]:
    """The actions to filter by, in the order of the table; the admin site as one."""
    return [
        *((code, str(action.label)) for code, action in ACTIONS.items()),
        (ADMIN_PREFIX, str(ADMIN_LABEL)),
    ]


def on_date(value: Any) -> str:
    """An ISO date of the data as the case page writes dates (令和5年3月16日)."""
    from .templatetags.tadasu import jdate

    try:
        return jdate(date.fromisoformat(str(value)))
    except ValueError:
        return plain(value)
