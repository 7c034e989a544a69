"""A new municipality in one step: checked whole, then written whole (manage.py
add_municipality, and the superuser's set-up page).

The set-up is a plain dict (what the operator's TOML file holds, or what the page's form
gives): the municipality with its 地方公共団体コード, its department and contacts, the
signatory, the seal, the designated account for repayments, its desks, the contractors that
serve it and its first users. `setup_problems` (cases/setup_checks.py) lists every mistake
at once, each with where it is, in the active language; `municipality_set_up` writes
nothing unless there is none, then writes everything in one transaction with one audit
entry. Initial passwords are made here and returned once to the caller, which shows them
once; they are never stored in clear, logged or audited.
"""

import secrets
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .audit import audit_log
from .crypto import mask
from .issuer import suggest_kind
from .models import Contractor, Membership, Municipality, Office, Role, User
from .setup_checks import Problem, entries_of, section_of, setup_problems, text_of


@dataclass
class SetUp:
    """What was created, for the caller to report (passwords: once, never stored)."""

    municipality: Municipality
    offices: list[Office]
    contractors: list[Contractor]
    created_contractors: list[str]
    users: list[User]
    passwords: dict[str, str] = field(repr=False)


class SetupError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.where()}: {p.message}" for p in problems))
        self.problems = problems


def municipality_set_up(
    *, spec: dict, seal: bytes | None = None, by: User | None, via: str
) -> SetUp:
    """Create the municipality and everything it needs, or nothing (SetupError). `via` says
    in the trail how it was done ("command", "page"): a command has no signed-in user."""
    try:
        return _set_up(spec=spec, seal=seal, by=by, via=via)
    except IntegrityError as error:
        # Checked free a moment ago, taken since by a set-up running at the same time: the
        # unique code and user names decide, and this one changes nothing.
        raise SetupError(
            [
                Problem(
                    ("municipality", "code"),
                    _(
                        "Another set-up took this code or one of these user names at the same "
                        "moment. Check, and submit again."
                    ),
                )
            ]
        ) from error


@transaction.atomic
def _set_up(*, spec: dict, seal: bytes | None, by: User | None, via: str) -> SetUp:
    problems = setup_problems(spec, seal=seal)
    if problems:
        raise SetupError(problems)
    m, department = section_of(spec, "municipality"), section_of(spec, "department")
    citizen, signatory = section_of(spec, "citizen_contact"), section_of(spec, "signatory")
    account = section_of(spec, "designated_account")
    code, name = text_of(m["code"]), text_of(m["name"])
    municipality = Municipality.objects.create(
        code=code,
        name=name,
        kind=text_of(m.get("kind")) or suggest_kind(code, name),
        department=text_of(department.get("name")),
        contact_phone=text_of(department.get("phone")),
        contact_people=text_of(department.get("contact_people")),
        citizen_department=text_of(citizen.get("department")),
        citizen_phone=text_of(citizen.get("phone")),
        citizen_person=text_of(citizen.get("person")),
        sender_title=text_of(signatory.get("title")),
        sender_name=text_of(signatory.get("name")),
        document_symbol=text_of(signatory.get("document_symbol")),
        seal_image=seal or None,
        # Sealed letters leave out （公印省略）: the seal is then pressed on each letter.
        letters_sealed=section_of(spec, "seal").get("sealed") is True,
        payment_bank=text_of(account.get("bank")),
        payment_account_type=text_of(account.get("type")) or "普通",
        payment_account_number=text_of(account.get("number")),
        payment_account_holder=text_of(account.get("holder")),
        payment_by_slip=account.get("by_slip") is True,
    )
    offices = [
        Office.objects.create(municipality=municipality, name=text_of(d["name"]))
        for d in entries_of(spec, "desks")
    ]
    contractors, created = [], []
    for entry in entries_of(spec, "contractors"):
        c_name = text_of(entry["name"])
        contractor, was_created = Contractor.objects.get_or_create(name=c_name)
        contractor.municipalities.add(municipality)
        contractors.append(contractor)
        if was_created:
            created.append(c_name)
    by_name = {c.name: c for c in contractors}
    users, passwords = [], {}
    for entry in entries_of(spec, "users"):
        username, role = text_of(entry["username"]), text_of(entry["role"])
        user = User(
            username=username,
            last_name=text_of(entry.get("last_name")),
            first_name=text_of(entry.get("first_name")),
            email=text_of(entry.get("email")),
            language=text_of(entry.get("language")) or "ja",
        )
        # Shown once to the operator, who hands it over; the user changes it.
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save()
        Membership.objects.create(
            user=user,
            role=role,
            municipality=None if role == Role.CONTRACTOR else municipality,
            contractor=by_name[text_of(entry["contractor"])] if role == Role.CONTRACTOR else None,
        )
        users.append(user)
        passwords[username] = password
    audit_log(
        "tadasu.municipality.set_up",
        by=by,
        obj=municipality,
        municipality_id=municipality.pk,
        data={
            "via": via,
            "code": code,
            "name": name,
            "kind": municipality.kind,
            "desks": [o.name for o in offices],
            "contractors": [c.name for c in contractors],
            "contractors_created": created,
            "users": [{"username": u.username, "role": u.membership.role} for u in users],
            "designated_account": mask(municipality.payment_account_number),
            "seal_image": seal is not None,
            "letters_sealed": municipality.letters_sealed,
        },
    )
    return SetUp(municipality, offices, contractors, created, users, passwords)
