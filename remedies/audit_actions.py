"""The names and sentences of remedies' audit entries (cases/audit_describe.py reads them):
stage steps, agencies, agreements, visits, letters, repayment plans, the ledger, documents
and the case-file export. Registered at start-up (apps.py), so that cases/ never imports
remedies/ (DESIGN.md, Boundaries)."""

from collections.abc import Callable

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.audit_describe import (
    Data,
    action,
    choice,
    joined,
    on_date,
    plain,
    plain_action,
    register,
    register_lookup,
    sep,
    stage_name,
    yen,
)

from .models import Delivery, Document, DocumentKind, Method, Purpose, Side


@action("tadasu.cases.exported", gettext_lazy("Case files exported"))
def _cases_exported(d: Data) -> str:
    if d.get("personal_data"):
        text = _("Exported %(cases)s case files with personal data to %(destination)s")
    else:
        text = _("Exported %(cases)s case files without personal data to %(destination)s")
    return text % {"cases": d.get("cases", 0), "destination": plain(d.get("destination"))}


# The stage machine (remedies/workflow.py STEPS): one action per step.
STAGE_STEPS: dict[str, Promise] = {
    "refer": gettext_lazy("Referred to the agencies"),
    "negotiate": gettext_lazy("Compensation talks started"),
    "plan_visits": gettext_lazy("Went straight to visits"),
    "agree": gettext_lazy("Compensation agreed"),
    "settle": gettext_lazy("Moved to settlement"),
    "close": gettext_lazy("Case closed"),
    "withdraw": gettext_lazy("Case withdrawn"),
    "reopen": gettext_lazy("Case reopened"),
}


def _stage_changed(d: Data) -> str:
    text = _("Changed the stage from “%(from)s” to “%(to)s”") % {
        "from": stage_name(d.get("from")),
        "to": stage_name(d.get("to")),
    }
    if d.get("note"):
        text += _(" (reason: %(note)s)") % {"note": d["note"]}
    return text


for _step, _label in STAGE_STEPS.items():
    register(f"tadasu.case.stage.{_step}", _label, _stage_changed)


# Agencies, agreements, visits, letters.
@action("tadasu.contact.added", gettext_lazy("Agencies asked"))
def _contact_added(d: Data) -> str:
    return _("Asked %(agencies)s") % {"agencies": joined(d.get("agencies", []))}


plain_action("tadasu.contact.answered", gettext_lazy("Agency answer recorded"))


@action("tadasu.agreement.added", gettext_lazy("Compensation agreement recorded"))
def _agreement_added(d: Data) -> str:
    return _("Agreed that the %(payer)s pays %(amount)s (%(form)s)") % {
        "payer": choice(Side, d.get("payer")),
        "amount": yen(d.get("amount")),
        "form": choice(Method, d.get("form")),
    }


@action("tadasu.visit.recorded", gettext_lazy("Visit recorded"))
def _visit_recorded(d: Data) -> str:
    text = _("Visited %(party)s (%(purpose)s)") % {
        "party": plain(d.get("party")),
        "purpose": choice(Purpose, d.get("purpose")),
    }
    if d.get("handed_over"):
        text += _(", handed over %(amount)s") % {"amount": yen(d["handed_over"])}
    if d.get("collected"):
        text += _(", collected %(amount)s") % {"amount": yen(d["collected"])}
    return text


def _letter(d: Data) -> dict[str, str]:
    number = d.get("number")
    return {"party": plain(d.get("party")), "number": f"（{number}）" if number else ""}


@action("tadasu.letter.recorded", gettext_lazy("Apology letter recorded"))
def _letter_recorded(d: Data) -> str:
    return _("Recorded the apology letter%(number)s to %(party)s") % _letter(d)


@action("tadasu.letter.reissued", gettext_lazy("Apology letter reissued"))
def _letter_reissued(d: Data) -> str:
    return _("Reissued the apology letter%(number)s to %(party)s") % _letter(d)


@action("tadasu.letter.delivered", gettext_lazy("Apology letter delivered"))
def _letter_delivered(d: Data) -> str:
    return _("Apology letter%(number)s to %(party)s: %(delivery)s on %(on)s") % {
        **_letter(d),
        "delivery": choice(Delivery, d.get("delivery")),
        "on": on_date(d.get("sent_on")),
    }


def _plan(d: Data) -> str:
    instalments = d.get("instalments") or []
    return _("%(party)s returns %(amount)s in %(count)s instalments") % {
        "party": plain(d.get("party")),
        "amount": yen(d.get("total")),
        "count": len(instalments) if isinstance(instalments, list) else instalments,
    }


register("tadasu.plan.agree", gettext_lazy("Repayment plan agreed"), _plan)
register("tadasu.plan.replace", gettext_lazy("Repayment plan changed"), _plan)


# The ledger (remedies/ledger.py): one action per entry kind; the sign says the direction.
LEDGER_KINDS: dict[str, Promise] = {
    "misallocation": gettext_lazy("Misallocation recorded"),
    "payment": gettext_lazy("Payment"),
    "collection": gettext_lazy("Collection"),
    "regrant": gettext_lazy("Points re-granted"),
    "national_correction": gettext_lazy("Corrected by the national system"),
    "write_off": gettext_lazy("Write-off"),
    "reversal": gettext_lazy("Reversal"),
}


def _ledger(kind: str) -> Callable[[Data], str]:
    def sentence(d: Data) -> str:
        delta = d.get("delta")
        amount = yen(abs(delta)) if isinstance(delta, int) else plain(delta)
        values = {"party": plain(d.get("party")), "amount": amount}
        if kind == "misallocation":
            text = (
                _("%(amount)s owed to %(party)s")
                if isinstance(delta, int) and delta > 0
                else _("%(amount)s held in excess by %(party)s")
            )
        elif kind == "payment":
            text = _("Paid %(amount)s to %(party)s")
        elif kind == "collection":
            text = _("Collected %(amount)s from %(party)s")
        elif kind == "regrant":
            text = _("Points worth %(amount)s re-granted to %(party)s")
        elif kind == "write_off":
            text = _("Wrote off %(amount)s of %(party)s")
        else:  # a reversal, a national correction: the sign is the news
            text = _("%(party)s: %(signed)s")
            values["signed"] = ("+" if isinstance(delta, int) and delta > 0 else "") + yen(delta)
        text %= values
        extra = [choice(Method, d["method"])] if d.get("method") else []
        if d.get("side"):
            extra.append(_("borne by the %(side)s") % {"side": choice(Side, d["side"])})
        if extra:
            text += _(" (%(details)s)") % {"details": sep().join(extra)}
        return text

    return sentence


for _kind, _label in LEDGER_KINDS.items():
    register(f"tadasu.ledger.{_kind}", _label, _ledger(_kind))


# Documents (remedies/documents/services.py).
DOCUMENT_ACTIONS: dict[str, tuple[Promise, Promise]] = {
    # action: (name, sentence with %(document)s)
    "requested": (
        gettext_lazy("Document requested for approval"),
        gettext_lazy("Asked for approval of %(document)s"),
    ),
    "issued": (gettext_lazy("Document issued"), gettext_lazy("Issued %(document)s")),
    "approved": (gettext_lazy("Document approved"), gettext_lazy("Approved %(document)s")),
    "downloaded": (
        gettext_lazy("Document downloaded"),
        gettext_lazy("Downloaded %(document)s"),
    ),
    "imported": (gettext_lazy("Document imported"), gettext_lazy("Imported %(document)s")),
}


def _document(template: Promise) -> Callable[[Data], str]:
    def sentence(d: Data) -> str:
        document = choice(DocumentKind, d.get("kind"))
        if d.get("number"):
            document += f"（{d['number']}）"
        if d.get("recipient"):
            document = _("%(document)s to %(party)s") % {
                "document": document,
                "party": plain(d["recipient"]),
            }
        version = d.get("version")
        if isinstance(version, int) and version > 1:
            document += _(", version %(version)s") % {"version": version}
        return str(template) % {"document": document}

    return sentence


def _document_recipients(ids: list[str]) -> dict[str, Data]:
    """To whom each document was issued (the entry holds its kind and number only)."""
    pks = [int(i) for i in ids if i.isdigit()]
    rows = Document.objects.filter(pk__in=pks, party__isnull=False)
    return {str(pk): {"recipient": label} for pk, label in rows.values_list("pk", "party__label")}


register_lookup("remedies.document", _document_recipients)


for _verb, (_label, _template) in DOCUMENT_ACTIONS.items():
    register(f"tadasu.document.{_verb}", _label, _document(_template))
