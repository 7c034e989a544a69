"""The rules of a municipality's set-up (cases/setup.py): every mistake in a set-up dict,
each with where it is and what to do, in the active language. Reads only."""

import io
from dataclasses import dataclass

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from .issuer import MunicipalityKind, check_digit
from .models import Contractor, Municipality, Role, User

SEAL_MAX_BYTES = 512 * 1024  # a scanned seal is a few tens of KB; this leaves room
SEAL_MAX_PIXELS = 2000  # per side
SEAL_FORMATS = {"PNG": "PNG", "JPEG": "JPEG"}
ACCOUNT_TYPES = ("普通", "当座")
CITY_ROLES = (Role.STAFF, Role.MANAGER, Role.AUDITOR)

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One mistake: where it is (("users", 0, "role")) and what to do, translated."""

    path: Path
    message: str

    def where(self) -> str:
        """users[1].role: 1-based, as the operator counts the entries of the file."""
        text = ""
        for part in self.path:
            text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text


def text_of(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def section_of(spec: dict, name: str) -> dict:
    value = spec.get(name)
    return value if isinstance(value, dict) else {}


def entries_of(spec: dict, name: str) -> list[dict]:
    value = spec.get(name)
    return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []


def code_problem(code: str) -> str | None:
    """What is wrong with a 地方公共団体コード, or None."""
    if not code:
        return _("Enter the local government code (地方公共団体コード).")
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return _(
            "“%(code)s” is not a local government code: enter its six digits, the last "
            "being the check digit (e.g. 401005)."
        ) % {"code": code[:20]}
    if not 1 <= int(code[:2]) <= 47:
        return _(
            "“%(code)s” is not a local government code: its first two digits are the "
            "prefecture, 01 to 47."
        ) % {"code": code}
    if check_digit(code[:5]) != int(code[5]):
        return _(
            "The check digit of %(code)s does not match: the sixth digit follows from the "
            "first five. Check the code against the official list."
        ) % {"code": code}
    return None


def seal_problem(data: bytes | None) -> str | None:
    """Whether bytes are a seal image Tadasu takes: PNG or JPEG, size- and pixel-limited."""
    from PIL import Image

    if not data:
        return _("The seal image file is empty.")
    if len(data) > SEAL_MAX_BYTES:
        return _("The seal image is larger than %(kb)s KB.") % {"kb": SEAL_MAX_BYTES // 1024}
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            width, height = image.size
            image.verify()
    except Exception:
        # Whatever a broken or hostile file makes the decoder raise, it is not a seal.
        return _("The seal file is not a PNG or JPEG image.")
    if kind not in SEAL_FORMATS:
        return _("The seal file is not a PNG or JPEG image.")
    if max(width, height) > SEAL_MAX_PIXELS:
        return _("The seal image is larger than %(px)s pixels on a side.") % {"px": SEAL_MAX_PIXELS}
    return None


def _length(problems, path: Path, value: str, limit: int) -> None:
    if len(value) > limit:
        problems.append(Problem(path, _("Use at most %(limit)s characters.") % {"limit": limit}))


def setup_problems(spec: dict, *, seal: bytes | None = None) -> list[Problem]:
    """Every mistake in a set-up, in the order of the file. `seal` is the seal image's
    bytes, read by the caller (a path for the command, an upload for the page)."""
    problems: list[Problem] = []
    add = problems.append
    m = section_of(spec, "municipality")

    code = text_of(m.get("code"))
    wrong = code_problem(code)
    if wrong:
        add(Problem(("municipality", "code"), wrong))
    elif Municipality.objects.filter(code=code).exists():
        add(
            Problem(
                ("municipality", "code"),
                _("A municipality with the code %(code)s is already set up.") % {"code": code},
            )
        )
    name = text_of(m.get("name"))
    if not name:
        add(Problem(("municipality", "name"), _("Enter the municipality's name (e.g. 北九州市).")))
    _length(problems, ("municipality", "name"), name, 100)
    kind = text_of(m.get("kind"))
    if kind and kind not in MunicipalityKind.values:
        add(
            Problem(
                ("municipality", "kind"),
                _("Choose the kind from: %(kinds)s, or leave it out to take it from the code.")
                % {"kinds": ", ".join(MunicipalityKind.values)},
            )
        )

    department = section_of(spec, "department")
    if not text_of(department.get("name")):
        add(
            Problem(
                ("department", "name"),
                _("Enter the responsible department (named in press releases)."),
            )
        )
    for key, limit in (("name", 100), ("phone", 20), ("contact_people", 200)):
        _length(problems, ("department", key), text_of(department.get(key)), limit)
    citizen = section_of(spec, "citizen_contact")
    for key, limit in (("department", 100), ("phone", 20), ("person", 100)):
        _length(problems, ("citizen_contact", key), text_of(citizen.get(key)), limit)

    signatory = section_of(spec, "signatory")
    if not text_of(signatory.get("title")):
        add(
            Problem(
                ("signatory", "title"),
                _("Enter the signatory's title (e.g. 北九州市長): every letter is signed so."),
            )
        )
    if not text_of(signatory.get("name")):
        add(Problem(("signatory", "name"), _("Enter the signatory's name.")))
    for key, limit in (("title", 100), ("name", 100), ("document_symbol", 20)):
        _length(problems, ("signatory", key), text_of(signatory.get(key)), limit)

    sealed = section_of(spec, "seal").get("sealed", False)
    if not isinstance(sealed, bool):
        add(Problem(("seal", "sealed"), _("Say true or false.")))
    if seal is not None:
        wrong = seal_problem(seal)
        if wrong:
            add(Problem(("seal", "image"), wrong))

    account = section_of(spec, "designated_account")
    bank, number = text_of(account.get("bank")), text_of(account.get("number"))
    holder, account_type = text_of(account.get("holder")), text_of(account.get("type")) or "普通"
    if bank or number or holder:
        if not bank:
            add(Problem(("designated_account", "bank"), _("Enter the bank and branch.")))
        if not (number.isascii() and number.isdigit() and len(number) == 7):
            add(
                Problem(
                    ("designated_account", "number"),
                    _("Enter the account number as its seven digits."),
                )
            )
        if not holder:
            add(Problem(("designated_account", "holder"), _("Enter the account holder.")))
        if account_type not in ACCOUNT_TYPES:
            add(
                Problem(
                    ("designated_account", "type"),
                    _("The account type is 普通 or 当座."),
                )
            )
        _length(problems, ("designated_account", "bank"), bank, 100)
        _length(problems, ("designated_account", "holder"), holder, 100)

    desks = entries_of(spec, "desks")
    if not desks:
        add(
            Problem(
                ("desks",),
                _("Name at least one desk or ward office: every case happens at one."),
            )
        )
    seen: set[str] = set()
    for i, desk in enumerate(desks):
        desk_name = text_of(desk.get("name"))
        if not desk_name:
            add(Problem(("desks", i, "name"), _("Enter the desk's name.")))
        elif desk_name in seen:
            add(Problem(("desks", i, "name"), _("This desk is named twice.")))
        seen.add(desk_name)
        _length(problems, ("desks", i, "name"), desk_name, 100)

    contractor_names: set[str] = set()
    for i, entry in enumerate(entries_of(spec, "contractors")):
        c_name = text_of(entry.get("name"))
        exists = bool(c_name) and Contractor.objects.filter(name=c_name).exists()
        if not c_name:
            add(Problem(("contractors", i, "name"), _("Enter the contractor's name.")))
        elif c_name in contractor_names:
            add(Problem(("contractors", i, "name"), _("This contractor is named twice.")))
        elif entry.get("create") is True and exists:
            add(
                Problem(
                    ("contractors", i, "name"),
                    _(
                        "%(name)s is already registered: choose it as a registered contractor "
                        "instead of registering it again (in a file: leave out “create”)."
                    )
                    % {"name": c_name},
                )
            )
        elif entry.get("create") is not True and not exists:
            add(
                Problem(
                    ("contractors", i, "name"),
                    _(
                        "No contractor named %(name)s is registered. Check the spelling, or "
                        "add “create = true” to register a new one."
                    )
                    % {"name": c_name},
                )
            )
        _length(problems, ("contractors", i, "name"), c_name, 100)
        contractor_names.add(c_name)

    users = entries_of(spec, "users")
    if not any(text_of(u.get("role")) == Role.MANAGER for u in users):
        add(
            Problem(
                ("users",),
                _("Add at least one city manager: a manager approves write-offs and closes cases."),
            )
        )
    usernames: set[str] = set()
    for i, user in enumerate(users):
        username = text_of(user.get("username"))
        if not username:
            add(Problem(("users", i, "username"), _("Enter a user name for logging in.")))
        else:
            try:
                UnicodeUsernameValidator()(username)
            except ValidationError:
                add(
                    Problem(
                        ("users", i, "username"),
                        _("A user name holds letters, digits and @ . + - _ only."),
                    )
                )
            else:
                if username in usernames:
                    add(Problem(("users", i, "username"), _("This user name is given twice.")))
                elif User.objects.filter(username=username).exists():
                    add(
                        Problem(
                            ("users", i, "username"),
                            _("The user name %(name)s is already taken.") % {"name": username},
                        )
                    )
            _length(problems, ("users", i, "username"), username, 150)
        usernames.add(username)
        if not text_of(user.get("last_name")):
            add(Problem(("users", i, "last_name"), _("Enter the family name.")))
        for key in ("last_name", "first_name"):
            _length(problems, ("users", i, key), text_of(user.get(key)), 150)
        email = text_of(user.get("email"))
        if email:
            try:
                validate_email(email)
            except ValidationError:
                add(Problem(("users", i, "email"), _("Enter a valid e-mail address.")))
        language = text_of(user.get("language")) or "ja"
        if language not in ("ja", "en"):
            add(Problem(("users", i, "language"), _("The language is ja or en.")))
        role = text_of(user.get("role"))
        works_for = text_of(user.get("contractor"))
        if role not in Role.values:
            add(
                Problem(
                    ("users", i, "role"),
                    _("Choose the role from: %(roles)s.") % {"roles": ", ".join(Role.values)},
                )
            )
        elif role == Role.CONTRACTOR and not works_for:
            add(
                Problem(
                    ("users", i, "contractor"),
                    _(
                        "Contractor staff belong to a contractor: name one of the contractors "
                        "serving this municipality."
                    ),
                )
            )
        elif role == Role.CONTRACTOR and works_for not in contractor_names:
            add(
                Problem(
                    ("users", i, "contractor"),
                    _(
                        "%(name)s is not among the contractors serving this municipality: add "
                        "it to the contractors first."
                    )
                    % {"name": works_for},
                )
            )
        elif role in CITY_ROLES and works_for:
            add(
                Problem(
                    ("users", i, "contractor"),
                    _(
                        "City staff, managers and auditors belong to the municipality: leave "
                        "the contractor out, or make the role contractor staff."
                    ),
                )
            )
    return problems
