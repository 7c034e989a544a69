"""Choice labels as the lists show them: `get_FOO_display` read from a table built once.

Django's own `get_FOO_display` builds a dict of every choice of the field, made hashable
item by item, on each call: on a work queue of 200 cases that is the largest single cost of
a row after the template itself. The labels are the same for every call (the choices are
fixed lists of the models); only their translation depends on the language of the request,
and that stays with the lazy label, translated when it is read, as Django does.

`install` (cases/apps.py) gives every model of Tadasu's apps such a method for each field
with choices, unless the model defines its own. The result is exactly Django's: the label
for a known value, the value itself otherwise (None stays None); tests/cases/test_labels.py
compares the two for every field and value, in both languages."""

from collections.abc import Callable, Iterable
from functools import cache, partialmethod

from django.db import models
from django.utils.choices import CallableChoiceIterator
from django.utils.encoding import force_str

# The apps whose models get these methods (config/settings.py, INSTALLED_APPS).
OWN_APPS = frozenset({"cases", "remedies", "receptions", "overview", "jobs", "api"})


def _display(field: models.Field) -> Callable[[models.Model], object]:
    labels: dict | None = None

    def get_display(instance: models.Model) -> object:
        nonlocal labels
        if labels is None:
            labels = dict(field.flatchoices)
        value = getattr(instance, field.attname)
        try:
            label = labels.get(value, value)
        except TypeError:  # an unhashable value: Django's own way, which copes
            return instance._get_FIELD_display(field)
        return force_str(label, strings_only=True)

    get_display.__name__ = f"get_{field.name}_display"
    get_display.__doc__ = f"The label of {field.name}, as Django's get_{field.name}_display."
    return get_display


def install(model_classes: Iterable[type[models.Model]]) -> None:
    for model in model_classes:
        for field in model._meta.get_fields():
            choices = getattr(field, "choices", None)
            if not choices or not getattr(field, "concrete", False):
                continue
            if isinstance(choices, CallableChoiceIterator):
                continue  # choices read anew on each call: Django's method stays
            name = f"get_{field.name}_display"
            # Only the method Django put there (a partialmethod on the model's own class):
            # a model's own get_FOO_display is left alone.
            if isinstance(model.__dict__.get(name), partialmethod):
                setattr(model, name, _display(field))


def is_choice(value: object, choices: type[models.Choices]) -> bool:
    """`value in choices.values`, from a set built once: Django builds that list afresh on
    each call, and an import checks a choice for each of its hundred thousand actions."""
    try:
        return value in _values_of(choices)
    except TypeError:  # unhashable (a list read from a file): never one of the values
        return False


@cache
def _values_of(choices: type[models.Choices]) -> frozenset:
    return frozenset(choices.values)
