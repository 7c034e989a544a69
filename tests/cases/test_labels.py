"""Choice labels (cases/labels.py): every list and page shows the same label Django's own
get_FOO_display gives, for every field with choices of every model, in both languages."""

from functools import partialmethod

import pytest
from django.apps import apps
from django.db import models
from django.utils import translation

from cases.labels import OWN_APPS, install
from cases.models import Case, Stage


def _choice_fields():
    for model in apps.get_models():
        if model._meta.app_config.name not in OWN_APPS:
            continue
        for field in model._meta.concrete_fields:
            if field.choices:
                yield model, field


FIELDS = list(_choice_fields())


def test_the_models_have_choice_fields_to_compare():
    names = {f"{m._meta.label}.{f.name}" for m, f in FIELDS}
    assert {"cases.Case.stage", "cases.Case.kind", "remedies.LedgerEntry.kind"} <= names


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(("model", "field"), FIELDS, ids=lambda x: getattr(x, "name", x))
def test_every_label_is_djangos_own(model, field, language):
    values = [value for value, _label in field.flatchoices]
    # A value that is not a choice (an old row, a blank) shows as itself, None as None.
    values += ["not-a-choice", "", None]
    with translation.override(language):
        for value in values:
            row = model(**{field.attname: value})
            shown = getattr(row, f"get_{field.name}_display")()
            assert shown == models.Model._get_FIELD_display(row, field), (field, value)
            assert type(shown) is type(models.Model._get_FIELD_display(row, field))


def test_a_stage_reads_in_the_language_of_the_request():
    case = Case(stage=Stage.INQUIRY)
    with translation.override("ja"):
        assert case.get_stage_display() == "調査"
    with translation.override("en"):
        assert case.get_stage_display() == "investigation"


@pytest.mark.parametrize(("model", "field"), FIELDS, ids=lambda x: getattr(x, "name", x))
def test_every_label_is_read_from_a_table_built_once(model, field):
    # Django's own method (a partialmethod) builds every choice into a dict on each call;
    # a list of 200 cases calls it 400 times.
    assert not isinstance(model.__dict__.get(f"get_{field.name}_display"), partialmethod)


def test_a_models_own_label_method_is_left_alone():
    class Own(models.Model):
        colour = models.CharField(max_length=5, choices=[("r", "Red")])

        class Meta:
            app_label = "cases"

        def __str__(self):
            return self.colour

        def get_colour_display(self):
            return "mine"

    install([Own])
    assert Own(colour="r").get_colour_display() == "mine"
    apps.all_models["cases"].pop("own", None)
    apps.clear_cache()


def test_is_choice_answers_as_the_list_of_values_for_every_choices_of_the_models():
    from django.db.models import Choices

    import cases.models
    import remedies.models
    from cases.labels import is_choice

    kinds = {
        value
        for module in (cases.models, remedies.models)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Choices)
        if value.__module__ == module.__name__
    }
    assert len(kinds) > 10
    for kind in kinds:
        tries = [*kind.values, "", None, 0, 1, True, "x", 1.0, [kind.values[0]], {"a": 1}]
        for value in tries:
            assert is_choice(value, kind) == (value in kind.values), (kind, value)
