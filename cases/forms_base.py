"""What every Tadasu form shares, in the Digital Agency design system's form pattern (DADS):

- messages that name the field and say what to enter (「判明日を入力してください。」), built
  once from each field's label, in the user's language; a form's own wording for a field
  stays;
- no choice made for the user: a required list starts at 「選択してください」 unless the form
  or the view sets a value that follows from the case; filters start at 「すべて」;
- dates written year first, whatever the browser's locale (DateInput below);
- the error summary's lines: each error with a link to its field (error_summary_items).

Shared by every app's forms (cases, remedies, receptions, overview); `cases/forms.py`
re-exports TadasuForm and DateInput for the imports that already use it.
"""

from datetime import date

from django import forms
from django.forms.utils import pretty_name
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from .mynumber import refuse_individual_numbers, refuse_invisible_controls
from .wareki import ERAS, parse_date, wareki

ISO_DATE = "%Y-%m-%d"
# Placeholders some choices lists used for "nothing chosen": replaced by the words below.
PLACEHOLDER_LABELS = frozenset({"", "—", "-", "---------"})


def choose_label():
    return gettext_lazy("Please choose")


def all_label():
    return gettext_lazy("All")


class DateInput(forms.TextInput):
    """A date typed year first, as Japanese forms ask, and read back in 和暦.

    Why a text box and not <input type="date">: the browser draws a date input in its own
    locale's order (mm/dd/yyyy in an English browser) beside 和暦 everywhere else, and a
    city clerk copies dates from papers that write 令和6年5月1日. This box takes 2024-05-01,
    2024/5/1, 2024年5月1日, 20240501, 令和6年5月1日, R6.5.1 (full-width digits too), shows
    the date it understood in 和暦 beside the box, and hands the field ISO text, so a value
    that is not a date gets the field's own message. (Three boxes for 年・月・日, DADS's
    other pattern, would change every form's field names for no gain in reading back.)"""

    input_type = "text"

    def __init__(self, attrs: dict | None = None, **_ignored):
        base = {"class": "date-input", "autocomplete": "off", "spellcheck": "false"}
        super().__init__(attrs={**base, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, date):
            return value.strftime(ISO_DATE)
        return super().format_value(value)

    def value_from_datadict(self, data, files, name):
        raw = super().value_from_datadict(data, files, name)
        day = parse_date(raw) if isinstance(raw, str) else None
        return day.strftime(ISO_DATE) if day else raw

    def render(self, name, value, attrs=None, renderer=None):
        day = value if isinstance(value, date) else parse_date(value)
        attrs = dict(attrs or {})
        hint = ""
        if shows_wareki(day):
            hint_id = f"{attrs.get('id') or self.attrs.get('id') or 'id_' + name}_wareki"
            described = [attrs.get("aria-describedby"), hint_id]
            attrs["aria-describedby"] = " ".join(d for d in described if d)
            hint = format_html('<span class="date-wareki" id="{}">{}</span>', hint_id, _shown(day))
        return format_html("{}{}", super().render(name, value, attrs, renderer), hint)


def shows_wareki(day: date | None) -> bool:
    """Whether the date box shows `day` again in 和暦 beside it: a date from 明治 on."""
    return day is not None and day >= ERAS[-1][0]


def _shown(day: date) -> str:
    if (get_language() or "ja").startswith("ja"):
        return wareki(day)
    return formats.date_format(day, "DATE_FORMAT")


class TadasuForm(forms.Form):
    """Base of every Tadasu form: marks required controls (※必須, aria-required), refuses an
    individual number typed into any text field (the message goes next to that field and
    the rest of the input stays as typed), and applies the form pattern above."""

    required_css_class = "required"
    # Fields holding a person's or organisation's name, or a label: no invisible controls.
    NAME_FIELDS = frozenset(
        ("label", "name", "name_kana", "actor", "city_attendees", "contractor_attendees")
    )
    # A filter (a search over lists) offers 「すべて」 where an entry form asks to choose.
    is_filter = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._apply_pattern()

    def _apply_pattern(self) -> None:
        """Once per field, including fields a form adds after this __init__ (rows of a
        plan, one field per stage): applied again before cleaning and rendering."""
        for name, field in self.fields.items():
            if getattr(field, "_tadasu_pattern", False):
                continue
            field._tadasu_pattern = True
            if isinstance(field, forms.CharField):
                field.validators.append(refuse_individual_numbers)
                if name in self.NAME_FIELDS:
                    field.validators.append(refuse_invisible_controls)
            if isinstance(field, forms.DateField):
                field.validators.append(writable_in_wareki)
            apply_form_pattern(name, field, is_filter=self.is_filter)

    def __getitem__(self, name):
        self._apply_pattern()
        return super().__getitem__(name)

    def full_clean(self):
        self._apply_pattern()
        super().full_clean()

    def error_summary_extra(self) -> list[tuple[str | None, str]]:
        """Lines the summary shows besides each field's errors: (anchor or None, text)."""
        return []


def apply_form_pattern(name: str, field: forms.Field, *, is_filter: bool = False) -> None:
    """Messages, empty choices and the date box for one field (see the module docstring).
    Also usable on a form that cannot inherit TadasuForm (a django-filter FilterSet's form)."""
    if isinstance(field, forms.DateField):
        if not isinstance(field.widget, DateInput):
            field.widget = DateInput(attrs=field.widget.attrs)
        # DateInput hands the field ISO text: no locale's month-first format is guessed.
        field.input_formats = [ISO_DATE]
        if not field.widget.is_hidden:
            example = _("Year, month, day: e.g. 2024-05-01 or 令和6年5月1日.")
            field.help_text = f"{field.help_text} {example}" if field.help_text else example
    _empty_choice(field, is_filter=is_filter)
    _messages(name, field)


def _empty_choice(field: forms.Field, *, is_filter: bool) -> None:
    empty = all_label() if is_filter else choose_label()
    if isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
        return
    if isinstance(field, forms.ModelChoiceField) or hasattr(field, "empty_label"):
        # Django's model choices and django-filter's choices draw their empty option from
        # empty_label (None: no empty option wanted).
        if field.empty_label is not None:
            field.empty_label = empty
            # The widget's options come from an iterator over the field: tie it to this one.
            field.widget.choices = field.choices
        return
    if not isinstance(field, forms.ChoiceField) or isinstance(field.widget, forms.RadioSelect):
        return
    choices = list(field.choices)
    if not choices:
        return
    first_value, first_label = choices[0]
    if first_value in ("", None):
        if str(first_label).strip() in PLACEHOLDER_LABELS:
            field.choices = [("", empty), *choices[1:]]
    elif field.required and len(choices) > 1:
        # Nothing is chosen for the user: a wrong default costs money or misstates a fact.
        field.choices = [("", empty), *choices]


def _default_messages(field: forms.Field, code: str) -> list:
    found = []
    for klass in type(field).__mro__:
        message = getattr(klass, "default_error_messages", {}).get(code)
        if message is not None:
            found.append(message)
    return found


def _messages(name: str, field: forms.Field) -> None:
    label = str(field.label or pretty_name(name))

    def named(message: str, *, params: bool = False) -> str:
        # Messages raised with params are %-formatted by Django: a % in the label is escaped.
        return message.replace("%(label)s", label.replace("%", "%%") if params else label)

    if field.widget.is_hidden:
        incomplete = _("The page was incomplete. Reload the page and enter it again.")
        wanted = {"required": incomplete, "invalid": incomplete, "invalid_choice": incomplete}
    else:
        wanted = {"required": named(_required_message(field))}
        if isinstance(field, forms.DateField):
            wanted["invalid"] = named(
                _("Enter “%(label)s” year first, e.g. 2024-05-01 or 令和6年5月1日.")
            )
        elif isinstance(field, forms.IntegerField):
            wanted["invalid"] = named(_("Enter “%(label)s” in half-width digits."))
        elif isinstance(field, forms.EmailField):
            wanted["invalid"] = named(_("Enter “%(label)s” as an e-mail address."))
        if isinstance(field, forms.ChoiceField):
            wanted["invalid_choice"] = named(_("Choose “%(label)s” from the list."), params=True)
            wanted["invalid_pk_value"] = wanted["invalid_choice"]
        if isinstance(field, forms.CharField):
            wanted["max_length"] = named(
                _(
                    "Enter “%(label)s” in at most %(limit_value)d characters "
                    "(it has %(show_value)d)."
                ),
                params=True,
            )
        if isinstance(field, forms.IntegerField):
            wanted["min_value"] = named(
                _("Enter “%(label)s” as %(limit_value)s or more."), params=True
            )
            wanted["max_value"] = named(
                _("Enter “%(label)s” as %(limit_value)s or less."), params=True
            )
    for code, message in wanted.items():
        current = field.error_messages.get(code)
        # A form's own wording for this field stays (compared by identity: defaults are
        # the class's own message objects).
        if current is None or any(current is d for d in _default_messages(field, code)):
            field.error_messages[code] = message


def _required_message(field: forms.Field) -> str:
    if isinstance(field, forms.BooleanField):
        return _("Tick “%(label)s”.")
    if isinstance(field, forms.ChoiceField | forms.FileField) or isinstance(
        field.widget, forms.Select | forms.RadioSelect | forms.CheckboxSelectMultiple
    ):
        return _("Choose “%(label)s”.")
    return _("Enter “%(label)s”.")


def writable_in_wareki(value) -> None:
    """Every date is shown in wareki (cases/wareki.py), which starts with 明治: an earlier
    date would break every page and document that shows it."""
    first = ERAS[-1][0]
    if value is not None and value < first:
        raise forms.ValidationError(
            _("Enter a date on or after %(first)s (the first day of Meiji).")
            % {"first": first.isoformat()},
            code="before_wareki",
        )


# --- The error summary ---------------------------------------------------------------------
def field_anchor(bound) -> str | None:
    """The id the summary links to: the control itself (the first box of a group)."""
    if bound.is_hidden:
        return None
    if bound.use_fieldset and bound.auto_id:
        return f"{bound.auto_id}_0"  # a group of boxes: its first box
    return bound.id_for_label or bound.auto_id or None


def error_summary_items(form, formset=None, *, row_label: str = "") -> list[tuple]:
    """(anchor or None, text) for every error of the form, then of each formset row: errors
    of the form as a whole first, then each field's in the order the page shows them."""
    items: list[tuple] = []
    for form_ in [form] if form is not None else []:
        items += _form_items(form_, prefix="")
        extra = getattr(form_, "error_summary_extra", None)
        if callable(extra):
            items += extra()
    if formset is not None:
        items += [(None, str(e)) for e in formset.non_form_errors()]
        for n, row in enumerate(formset.forms, start=1):
            prefix = (row_label or _("Row %(n)s")) % {"n": n}
            items += _form_items(row, prefix=f"{prefix} ")
    return items


def _form_items(form, *, prefix: str) -> list[tuple]:
    if not form.is_bound or not form.errors:
        return []
    items = [(None, f"{prefix}{e}".strip()) for e in form.non_field_errors()]
    for bound in form:
        for error in bound.errors:
            anchor = field_anchor(bound)
            if anchor is None:
                items.append((None, str(error)))
            else:
                text = _("%(label)s: %(message)s") % {
                    "label": f"{prefix}{bound.label}",
                    "message": error,
                }
                items.append((anchor, text))
    return items
