"""Every change made in /admin/ goes into the audit trail, in the admin's own transaction.

Django's admin records its changes only in `django_admin_log`, which anyone with database
access can edit and which says nothing about old values. The mixin below writes an audit
entry at the three places the admin itself logs (`log_addition`, `log_change`,
`log_deletions`), so every path that logs is covered: the change form with its inlines, the
list's bulk edit, the change-password form and the bulk delete action. Those paths run in a
transaction (the bulk actions and the change-password form are put in one here), so a save
that fails leaves neither the change nor its entry.

An entry names the object, the fields changed with their old and new values (personal data
masked as elsewhere in the trail; a password only as "changed"), and belongs to the
municipality the object concerns, so that a city's auditors find in their own trail who was
given access to it.
"""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import NestedObjects
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import FieldDoesNotExist
from django.db import models, router, transaction
from django.http import HttpRequest

from .audit import audit_log
from .crypto import mask, mask_address
from .models import Membership, Municipality, User
from .services import PERSONAL_FIELDS

# Fields that are never written to the trail in any form, only said to have changed.
SECRET_FIELDS = frozenset({"password", "password1", "password2", "usable_password"})
# Not secret, but of no use to an auditor and possibly holding what a user typed
# (django-axes keeps the request's query and form data of a failed log-in).
SKIPPED_FIELDS = frozenset({"get_data", "post_data", "http_accept", "path_info", "user_agent"})
# Images kept as bytes: the trail says whether there is one, never holds it.
IMAGE_FIELDS = frozenset({"seal_image", "seal_upload"})
# Personal data of the people behind the accounts and the letters, masked in the trail.
# A model not listed here masks the fields the case file masks (cases.services).
PERSONAL = {
    "cases.user": frozenset({"first_name", "last_name", "email"}),
    "cases.municipality": frozenset({"contact_people", "sender_name", "payment_account_number"}),
    "cases.office": frozenset(),
    "cases.contractor": frozenset(),
    "cases.agency": frozenset(),
    "cases.membership": frozenset(),
    "auth.group": frozenset(),
}
_NAME_LIKE = frozenset({"first_name", "last_name", "name", "name_kana", "sender_name"})


def _personal_fields(model: type[models.Model]) -> frozenset[str]:
    return PERSONAL.get(model._meta.label_lower, frozenset(PERSONAL_FIELDS))


def _masked(name: str, value: str) -> str:
    """As the case file masks its people (cases.services): a name keeps its first
    character, an address its first few, anything else its last four."""
    if name in _NAME_LIKE:
        return value[:1] + "＊＊"
    if name == "address":
        return mask_address(value)
    if name == "contact_people":  # several names: none of them is kept
        return "＊＊"
    return mask(value)


def _shown(obj: models.Model) -> str:
    return f"{obj} [{obj.pk}]"


def _plain(value: Any, *, related: type[models.Model] | None = None) -> Any:
    """A value as the trail shows it: related objects by name and id, lists sorted."""
    if isinstance(value, models.Model):
        return _shown(value)
    if isinstance(value, (models.QuerySet, list, tuple, set)):
        return sorted(_plain(item, related=related) for item in value)
    if related is not None and value not in (None, ""):
        # A foreign key as the form's initial data holds it: the id.
        found = related._base_manager.filter(pk=value).first()
        return _shown(found) if found is not None else f"[{value}]"
    return value


def _field_value(model: type[models.Model], name: str, value: Any, related=None) -> Any:
    if name in IMAGE_FIELDS:
        return "[image]" if value else None
    value = _plain(value, related=related)
    if name in _personal_fields(model) and value not in (None, ""):
        return _masked(name, str(value))
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """Every field of the object as the trail may show it (no secrets, personal data
    masked): what was created, or what was deleted."""
    opts = obj._meta
    values: dict[str, Any] = {}
    for field in [*opts.concrete_fields, *opts.many_to_many]:
        if field.primary_key or field.name in SECRET_FIELDS | SKIPPED_FIELDS:
            continue
        if field.many_to_many:
            value = list(getattr(obj, field.name).all()) if obj.pk is not None else []
        elif field.is_relation:
            value = getattr(obj, field.name)
        else:
            value = field.value_from_object(obj)
        values[field.name] = _field_value(type(obj), field.name, value)
    if isinstance(obj, User):
        membership = Membership.objects.filter(user_id=obj.pk).first()
        values["membership"] = str(membership) if membership else None
    return values


def form_changes(form: forms.BaseForm, model: type[models.Model]) -> dict[str, list]:
    """The fields the form changed, each as [old, new]."""
    changes = {}
    for name in form.changed_data:
        if name in SECRET_FIELDS or name in SKIPPED_FIELDS:
            continue
        field = form.fields[name]
        related = field.queryset.model if isinstance(field, forms.ModelChoiceField) else None
        old = form.get_initial_for_field(field, name)
        new = form.cleaned_data.get(name)
        changes[name] = [
            _field_value(model, name, old, related),
            _field_value(model, name, new, related),
        ]
    return changes


def _password_note(form: forms.BaseForm, user: models.Model, *, add: bool) -> str | None:
    """What the trail says of a password set or changed: never the password or its hash."""
    if not isinstance(form, AdminPasswordChangeForm) and not SECRET_FIELDS & set(form.changed_data):
        return None
    if isinstance(user, User) and not user.has_usable_password():
        return "password log-in disabled"
    return "password set" if add else "password changed"


def _municipality_ids(obj: models.Model, raw: dict, *, whole: bool = False) -> set:
    """The municipalities the object concerns: the one it belongs to (before and after a
    change), those added to or removed from a contractor's (all of them when `whole`, for
    a new contractor), a user's through their membership. An object that concerns none
    (an agency) goes to the trail that belongs to no municipality."""
    if isinstance(obj, Municipality):
        return {obj.pk} if obj.pk is not None else set()
    ids: set = set()
    for field in obj._meta.concrete_fields:
        if field.is_relation and field.related_model is Municipality:
            ids.add(getattr(obj, field.attname))
            ids.update(raw.get(field.name, ()))
    for field in obj._meta.many_to_many:
        if field.related_model is not Municipality:
            continue
        if whole and obj.pk is not None:
            ids.update(getattr(obj, field.name).values_list("pk", flat=True))
        elif field.name in raw:
            old, new = raw[field.name]
            ids.update(old ^ new)
    if isinstance(obj, User) and obj.pk is not None:
        ids.update(
            Membership.objects.filter(user_id=obj.pk).values_list("municipality_id", flat=True)
        )
    ids.discard(None)
    return ids


def _raw_municipalities(form: forms.BaseForm, model: type[models.Model]) -> dict:
    """The old ids of the fields that point at municipalities (old and new ids for a
    contractor's), for _municipality_ids."""
    raw: dict = {}
    for name in form.changed_data:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a form's own field, such as a password
            continue
        if not (field.is_relation and field.related_model is Municipality):
            continue
        old = form.get_initial_for_field(form.fields[name], name)
        if field.many_to_many:
            new = form.cleaned_data.get(name)
            raw[name] = ({_pk(m) for m in old or ()}, {_pk(m) for m in new or ()})
        else:
            raw[name] = (_pk(old),)
    return raw


def _pk(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


class _Entry:
    """One entry to write when the admin logs: what, about which object, which data."""

    def __init__(self, verb: str, obj: models.Model, data: dict, municipalities: set):
        self.verb, self.obj, self.data, self.municipalities = verb, obj, data, municipalities

    def write(self, request: HttpRequest) -> None:
        action = f"tadasu.admin.{self.obj._meta.model_name}.{self.verb}"
        for municipality_id in sorted(self.municipalities) or [None]:
            audit_log(
                action,
                by=request.user,
                obj=self.obj,
                data=self.data,
                municipality_id=municipality_id,
            )


class AuditedAdminMixin:
    """Mixed into every ModelAdmin of the site (cases/admin.py; `audit_every_admin` wraps
    the ones other apps register): each addition, change and deletion, of the object and
    of its inlines, also writes an audit entry, in the same transaction.

    What changed is worked out while the forms are at hand (`save_related`,
    `construct_change_message`) and written when Django logs."""

    def save_related(self, request, form, formsets, change):
        # The old values of an inline are in its form; a deleted one's id is gone after.
        inline_forms = {id(f.instance): f for fs in formsets for f in fs.initial_forms}
        pks = {key: f.instance.pk for key, f in inline_forms.items()}
        super().save_related(request, form, formsets, change)
        via = _shown(form.instance)
        entries = []
        for formset in formsets:
            for obj in formset.new_objects:
                entries.append(_created(obj, via=via))
            for obj, _names in formset.changed_objects:
                inline_form = inline_forms[id(obj)]
                changes = form_changes(inline_form, formset.model)
                data = {"object": str(obj), "via": via}
                data |= {"fields": sorted(changes), "changes": changes}
                raw = _raw_municipalities(inline_form, formset.model)
                entries.append(_Entry("changed", obj, data, _municipality_ids(obj, raw)))
            for obj in formset.deleted_objects:
                if obj.pk is None:
                    obj.pk = pks.get(id(obj))  # Model.delete() forgets it
                data = {"object": str(obj), "via": via, "values": snapshot(obj)}
                entries.append(_Entry("deleted", obj, data, _municipality_ids(obj, {})))
        _pending(request)["inlines"][id(form.instance)] = entries

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        password_form = isinstance(form, AdminPasswordChangeForm)
        obj = form.user if password_form else form.instance
        data: dict[str, Any] = {"object": str(obj)}
        raw: dict = {}
        if not add:
            changes = {} if password_form else form_changes(form, type(obj))
            data |= {"fields": sorted(changes), "changes": changes}
            raw = {} if password_form else _raw_municipalities(form, type(obj))
        note = _password_note(form, obj, add=add)
        if note:
            data["password"] = note
            if not add:
                data["fields"] = sorted([*data["fields"], "password"])
        _pending(request)["forms"][id(obj)] = (data, raw)
        return message

    def log_addition(self, request, obj, message):
        logged = super().log_addition(request, obj, message)
        pending = _pending(request)
        data, _raw = pending["forms"].pop(id(obj), ({}, {}))
        entry = _created(obj)
        if "password" in data:
            entry.data["password"] = data["password"]
        _write(request, [entry, *pending["inlines"].pop(id(obj), [])])
        return logged

    def log_change(self, request, obj, message):
        logged = super().log_change(request, obj, message)
        pending = _pending(request)
        entries = pending["inlines"].pop(id(obj), [])
        stashed = pending["forms"].pop(id(obj), None)
        if stashed is None:
            # Logged by a path that built no change message here: say what Django says.
            data, raw = {"object": str(obj), "message": message}, {}
            entries.insert(0, _Entry("changed", obj, data, _municipality_ids(obj, raw)))
        elif stashed[0]["fields"]:
            # Django also logs "No fields changed."; the trail records changes only.
            data, raw = stashed
            entries.insert(0, _Entry("changed", obj, data, _municipality_ids(obj, raw)))
        _write(request, entries)
        return logged

    def log_deletions(self, request, queryset):
        logged = super().log_deletions(request, queryset)
        entries = []
        for obj in queryset:
            data = {"object": str(obj), "values": snapshot(obj)}
            cascade = _cascade(obj)
            if cascade:
                data["also_deleted"] = cascade
            # An entry must not point at the municipality that is about to go.
            concerned = set() if isinstance(obj, Municipality) else _municipality_ids(obj, {})
            entries.append(_Entry("deleted", obj, data, concerned))
        _write(request, entries)
        return logged

    def response_action(self, request, queryset):
        # The bulk delete action logs, then deletes, in no transaction of its own.
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().response_action(request, queryset)


def _pending(request: HttpRequest) -> dict:
    """Entries worked out for the objects of this request, until Django logs them."""
    if not hasattr(request, "_tadasu_admin_audit"):
        request._tadasu_admin_audit = {"forms": {}, "inlines": {}}
    return request._tadasu_admin_audit


def _created(obj: models.Model, *, via: str | None = None) -> _Entry:
    data: dict[str, Any] = {"object": str(obj)}
    if via is not None:
        data["via"] = via
    data["values"] = snapshot(obj)
    return _Entry("added", obj, data, _municipality_ids(obj, {}, whole=True))


def _write(request: HttpRequest, entries: Iterable[_Entry]) -> None:
    for entry in entries:
        entry.write(request)


def _cascade(obj: models.Model) -> dict[str, int]:
    """What else a deletion takes with it (a user's membership), counted by kind."""
    collector = NestedObjects(using=router.db_for_write(type(obj)))
    collector.collect([obj])
    counts = {
        model._meta.label_lower: len(objs)
        for model, objs in collector.model_objs.items()
        if model is not type(obj) and len(objs)
    }
    return dict(sorted(counts.items()))


def audit_every_admin(site: admin.AdminSite) -> None:
    """Give the mixin to admins that other apps register (django.contrib.auth's groups,
    django-axes' lock-out records): run once every admin module is loaded."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, AuditedAdminMixin):
            continue
        name = f"Audited{type(model_admin).__name__}"
        audited = type(name, (AuditedAdminMixin, type(model_admin)), {"__module__": __name__})
        site.unregister(model)
        site.register(model, audited)
