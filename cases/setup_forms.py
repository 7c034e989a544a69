"""The superuser's set-up page: one form in sections and a formset of first users, turned
into the same set-up dict the command reads (cases/setup.py checks both the same way)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .forms import ModelMultipleChoiceField, TadasuForm
from .issuer import MunicipalityKind
from .models import Contractor, Role
from .setup_checks import ACCOUNT_TYPES, SEAL_MAX_BYTES, Problem

# Sections of the page: (legend, fields). The template draws them in this order.
SECTIONS = (
    (_("Municipality"), ("code", "name", "kind")),
    (
        _("Responsible department (press contact)"),
        ("department", "contact_phone", "contact_people"),
    ),
    (
        _("Contact for citizens (letters)"),
        ("citizen_department", "citizen_phone", "citizen_person"),
    ),
    (
        _("Signatory and seal"),
        ("sender_title", "sender_name", "document_symbol", "letters_sealed", "seal"),
    ),
    (
        _("Designated account for repayments"),
        ("payment_bank", "payment_type", "payment_number", "payment_holder", "payment_by_slip"),
    ),
    (_("Desks and ward offices"), ("desks",)),
    (_("Contractors serving the municipality"), ("contractors", "new_contractors")),
)

# Where a set-up problem (cases/setup.Problem.path) is shown on this page.
FIELD_OF = {
    ("municipality", "code"): "code",
    ("municipality", "name"): "name",
    ("municipality", "kind"): "kind",
    ("department", "name"): "department",
    ("department", "phone"): "contact_phone",
    ("department", "contact_people"): "contact_people",
    ("citizen_contact", "department"): "citizen_department",
    ("citizen_contact", "phone"): "citizen_phone",
    ("citizen_contact", "person"): "citizen_person",
    ("signatory", "title"): "sender_title",
    ("signatory", "name"): "sender_name",
    ("signatory", "document_symbol"): "document_symbol",
    ("seal", "image"): "seal",
    ("seal", "sealed"): "letters_sealed",
    ("designated_account", "bank"): "payment_bank",
    ("designated_account", "type"): "payment_type",
    ("designated_account", "number"): "payment_number",
    ("designated_account", "holder"): "payment_holder",
}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class MunicipalitySetupForm(TadasuForm):
    code = forms.CharField(
        label=_("Local government code (地方公共団体コード)"),
        max_length=6,
        help_text=_("Six digits, the last being the check digit, e.g. 401005."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.CharField(
        label=_("Municipality name"), max_length=100, help_text=_("e.g. 北九州市")
    )
    kind = forms.ChoiceField(
        label=_("Kind of local government"),
        choices=[("", _("From the code")), *MunicipalityKind.choices],
        required=False,
    )
    department = forms.CharField(label=_("Department"), max_length=100)
    contact_phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    contact_people = forms.CharField(
        label=_("Contact people"),
        max_length=200,
        required=False,
        help_text=_("e.g. 担当課長：須山 担当係長：三浦"),
    )
    citizen_department = forms.CharField(
        label=_("Department handling citizens' enquiries"), max_length=100, required=False
    )
    citizen_phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    citizen_person = forms.CharField(label=_("Person in charge"), max_length=100, required=False)
    sender_title = forms.CharField(
        label=_("Signatory's title"), max_length=100, help_text=_("e.g. 北九州市長")
    )
    sender_name = forms.CharField(label=_("Signatory's name"), max_length=100)
    document_symbol = forms.CharField(
        label=_("Document number symbol"),
        max_length=20,
        required=False,
        help_text=_("e.g. デ推 gives デ推第12号"),
    )
    letters_sealed = forms.BooleanField(
        label=_("letters carry the official seal (otherwise 公印省略)"), required=False
    )
    seal = forms.FileField(
        label=_("Official seal image"),
        required=False,
        help_text=_("PNG or JPEG, at most 512 KB."),
    )
    payment_bank = forms.CharField(label=_("Bank and branch"), max_length=100, required=False)
    payment_type = forms.ChoiceField(
        label=_("Account type"), choices=[(t, t) for t in ACCOUNT_TYPES], required=False
    )
    payment_number = forms.CharField(
        label=_("Account number"),
        max_length=7,
        required=False,
        help_text=_("Seven digits. Kept encrypted and shown masked."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    payment_holder = forms.CharField(label=_("Account holder"), max_length=100, required=False)
    payment_by_slip = forms.BooleanField(
        label=_("Repayment by payment slip (納付書) instead of transfer"), required=False
    )
    desks = forms.CharField(
        label=_("Desks and ward offices"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line, e.g. 八幡西区役所 支援窓口."),
    )
    contractors = ModelMultipleChoiceField(
        label=_("Registered contractors"),
        queryset=Contractor.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    new_contractors = forms.CharField(
        label=_("Contractors to register"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=_("One company name per line."),
    )

    # The set-up's own words for a missing value, rather than the generic "required".
    REQUIRED = {
        "code": _("Enter the local government code (地方公共団体コード)."),
        "name": _("Enter the municipality's name (e.g. 北九州市)."),
        "department": _("Enter the responsible department (named in press releases)."),
        "sender_title": _(
            "Enter the signatory's title (e.g. 北九州市長): every letter is signed so."
        ),
        "sender_name": _("Enter the signatory's name."),
        "desks": _("Name at least one desk or ward office: every case happens at one."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, message in self.REQUIRED.items():
            self.fields[name].error_messages["required"] = message
        # Mistakes about the first users as a whole ("at least one manager"), shown above
        # their rows and in the summary.
        self.users_problems: list[str] = []

    USER_ROW = _("User %(n)s")  # the first users' rows, as the error summary names them

    def error_summary_extra(self) -> list[tuple[str | None, str]]:
        from django.utils.translation import gettext

        label = gettext("First users")
        return [
            ("first-users", gettext("%(label)s: %(message)s") % {"label": label, "message": e})
            for e in self.users_problems
        ]

    def sections(self):
        return [(legend, [self[name] for name in names]) for legend, names in SECTIONS]

    def seal_bytes(self) -> bytes | None:
        upload = self.cleaned_data.get("seal")
        # One byte over the limit is enough to say it is too large.
        return upload.read(SEAL_MAX_BYTES + 1) if upload else None

    def contractor_names(self) -> list[str]:
        return [c.name for c in self.cleaned_data["contractors"]] + _lines(
            self.cleaned_data["new_contractors"]
        )


class FirstUserForm(TadasuForm):
    username = forms.CharField(label=_("User name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Family name"), max_length=150, required=False)
    first_name = forms.CharField(label=_("Given name"), max_length=150, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=[("", "—"), *Role.choices], required=False)
    contractor = forms.CharField(
        label=_("Contractor (contractor staff only)"), max_length=100, required=False
    )

    def is_blank(self) -> bool:
        return not any((self.cleaned_data or {}).get(name) for name in self.fields)


FirstUserFormSet = forms.formset_factory(FirstUserForm, extra=4, max_num=20, validate_max=True)


def setup_spec(form: MunicipalitySetupForm, users) -> tuple[dict, list[int]]:
    """The set-up dict of what the form and formset hold (a field the form refused is
    empty here), and which formset row each user is."""
    data = dict.fromkeys(form.fields, "") | getattr(form, "cleaned_data", {})
    rows = [i for i, f in enumerate(users.forms) if not f.is_blank()]
    selected = [c.name for c in data["contractors"] or []]
    spec = {
        "municipality": {"code": data["code"], "name": data["name"], "kind": data["kind"]},
        "department": {
            "name": data["department"],
            "phone": data["contact_phone"],
            "contact_people": data["contact_people"],
        },
        "citizen_contact": {
            "department": data["citizen_department"],
            "phone": data["citizen_phone"],
            "person": data["citizen_person"],
        },
        "signatory": {
            "title": data["sender_title"],
            "name": data["sender_name"],
            "document_symbol": data["document_symbol"],
        },
        "seal": {"sealed": data["letters_sealed"] is True},
        "designated_account": {
            "bank": data["payment_bank"],
            "type": data["payment_type"] or "普通",
            "number": data["payment_number"],
            "holder": data["payment_holder"],
            "by_slip": data["payment_by_slip"] is True,
        },
        "desks": [{"name": name} for name in _lines(data["desks"])],
        "contractors": [{"name": name} for name in selected]
        + [{"name": name, "create": True} for name in _lines(data["new_contractors"])],
        "users": [dict(getattr(users.forms[i], "cleaned_data", {})) for i in rows],
    }
    return spec, rows


def show_problems(
    problems: list[Problem], form: MunicipalitySetupForm, users, rows: list[int]
) -> None:
    """Each set-up problem next to its field on the page, where the form has not already
    said what is wrong with that field."""
    selected = len((getattr(form, "cleaned_data", {}) or {}).get("contractors") or [])

    def add(target, name: str | None, message: str) -> None:
        if name is None or name not in target.errors:
            target.add_error(name, message)

    for problem in problems:
        path = problem.path
        if path[:1] == ("users",) and len(path) == 3:
            add(users.forms[rows[path[1]]], str(path[2]), problem.message)
        elif path[:1] == ("users",):
            form.users_problems.append(problem.message)
        elif path[:1] == ("desks",):
            add(form, "desks", problem.message)
        elif path[:1] == ("contractors",):
            add(form, "contractors" if path[1] < selected else "new_contractors", problem.message)
        else:
            add(form, FIELD_OF.get(path[:2]), problem.message)
