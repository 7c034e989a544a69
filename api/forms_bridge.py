"""The API takes its input through the pages' own forms.

A write through the API must meet the same rules, in the same words, as the page that makes
it: so each write endpoint validates its JSON body with the very form class its page uses
(ReportForm, VisitForm, TimelineForm…), bound the same way (the parties of this case, the
offices this user may choose), then calls the same service.

The request body's schema is derived from that form (`body_serializer`), so the OpenAPI
document cannot drift from what the form accepts; the serializer also refuses JSON of the
wrong shape (a list where a date belongs) before the form sees it.
"""

from django import forms
from rest_framework import serializers

from .problems import Invalid

BIGINT_MAX = 2**63 - 1
_SERIALIZERS: dict[tuple[type, tuple[str, ...]], type[serializers.Serializer]] = {}


def _field_for(field: forms.Field) -> serializers.Field:
    common = {"required": field.required, "help_text": str(field.label or "")}
    if isinstance(field, forms.BooleanField):
        return serializers.BooleanField(required=False, help_text=common["help_text"])
    if isinstance(field, forms.ModelMultipleChoiceField):
        return serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX),
            allow_empty=not field.required,
            **common,
        )
    if isinstance(field, forms.ModelChoiceField):
        return serializers.IntegerField(
            min_value=1, max_value=BIGINT_MAX, allow_null=not field.required, **common
        )
    if isinstance(field, forms.DateField):
        return serializers.DateField(allow_null=not field.required, **common)
    if isinstance(field, forms.ChoiceField):
        choices = [(value, label) for value, label in field.choices if value != ""]
        return serializers.ChoiceField(
            choices=choices, allow_blank=not field.required, allow_null=not field.required, **common
        )
    if isinstance(field, forms.IntegerField):
        return serializers.IntegerField(
            min_value=field.min_value,
            max_value=field.max_value if field.max_value is not None else BIGINT_MAX,
            allow_null=not field.required,
            **common,
        )
    if isinstance(field, forms.CharField):
        return serializers.CharField(
            max_length=field.max_length,
            allow_blank=not field.required,
            trim_whitespace=False,
            **common,
        )
    raise TypeError(f"no API field for the form field {type(field).__name__}")


def body_serializer(
    form_class: type[forms.Form], name: str, *, exclude: tuple[str, ...] = ()
) -> type[serializers.Serializer]:
    """A serializer whose fields are the form's (minus `exclude`), named `name` in the schema."""
    key = (form_class, exclude)
    if key not in _SERIALIZERS:
        fields = {
            field_name: _field_for(field)
            for field_name, field in form_class.base_fields.items()
            if field_name not in exclude
        }
        _SERIALIZERS[key] = type(name, (serializers.Serializer,), fields)
    return _SERIALIZERS[key]


def _form_value(value):
    # The form reads what a browser would post: no value for "nothing", text for the rest.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    return value


def cleaned(
    form_class: type[forms.Form],
    body,
    *,
    name: str,
    exclude: tuple[str, ...] = (),
    extra: dict | None = None,
    **form_kwargs,
) -> dict:
    """The form's cleaned_data for a JSON body, or Invalid with each field's message."""
    if not isinstance(body, dict):
        raise Invalid([(None, str(serializers.Serializer.default_error_messages["invalid"]))])
    # An empty or missing value is the form's to judge: its message names the field
    # (「判明日を入力してください。」), where the serializer's would not. So the serializer
    # checks only the shape of what was sent (partial: nothing is required here).
    body = {key: value for key, value in body.items() if value is not None and value != ""}
    serializer = body_serializer(form_class, name, exclude=exclude)(data=body, partial=True)
    serializer.is_valid(raise_exception=True)
    data = {key: _form_value(value) for key, value in serializer.validated_data.items()}
    data = {key: value for key, value in data.items() if value != ""}
    data.update(extra or {})
    form = form_class(data, **form_kwargs)
    if not form.is_valid():
        errors = []
        for field_name, messages in form.errors.items():
            for message in messages:
                errors.append((None if field_name == "__all__" else field_name, message))
        raise Invalid(errors)
    return form.cleaned_data
