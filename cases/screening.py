"""The last screen before text is written: no individual number in any free-text field, no
invisible control character in a name or a label, whichever service writes the row.

Forms refuse both already (cases/forms.py), with the message next to the field; this screen
is for every other way in (a service called by a command, the case import, a future form
that forgets). Each app names the fields of its models that hold text typed by people
(`register`); a save of such a row with a refused value raises CaseError naming the field,
inside the service's transaction, so nothing of that action is written.
"""

from django.db.models import Model
from django.db.models.signals import pre_save
from django.utils.translation import gettext as _

from .errors import CaseError
from .mynumber import contains_individual_number, has_invisible_controls

# model → (free-text fields, name and label fields)
_SCREENED: dict[type[Model], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def register(model: type[Model], *, text: tuple[str, ...] = (), names: tuple[str, ...] = ()):
    """Screen these fields of `model` on every save. Names are screened as text too."""
    _SCREENED[model] = (tuple(dict.fromkeys((*text, *names))), names)
    pre_save.connect(_screen, sender=model, dispatch_uid=f"tadasu.screen.{model._meta.label}")


def screen(fields: dict[str, object], *, names: tuple[str, ...] = ()) -> None:
    """Raise CaseError for the first refused value, naming its field."""
    for field, value in fields.items():
        if not isinstance(value, str) or not value:
            continue
        if field in names and has_invisible_controls(value):
            raise CaseError(
                _(
                    "This holds invisible control characters (text direction marks or "
                    "zero-width characters) that can make a name look like another. Type it "
                    "again without them."
                ),
                field=field,
            )
        if contains_individual_number(value):
            raise CaseError(
                _(
                    "This looks like an individual number (My Number). Individual numbers "
                    "must not be recorded; remove it and save again."
                ),
                field=field,
            )


def _screen(sender: type[Model], instance: Model, update_fields=None, raw=False, **kwargs):
    if raw:
        return  # loaddata of fixtures, not input
    text, names = _SCREENED[sender]
    if update_fields is not None:
        text = tuple(f for f in text if f in update_fields)
    screen({f: getattr(instance, f) for f in text}, names=names)
