"""Admin for reference data only. Cases are worked in the app, through its services.

Every admin here (and those other apps register, see CasesConfig.ready) writes its
additions, changes and deletions to the audit trail: cases/admin_audit.py."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import router, transaction
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from .admin_audit import AuditedAdminMixin
from .crypto import mask
from .models import Agency, Contractor, Membership, Municipality, Office, Role, User
from .setup_checks import SEAL_MAX_BYTES, seal_problem


class MembershipForm(forms.ModelForm):
    """Says next to the role which organisation it needs, instead of the database
    constraint's bare name (membership_role_matches_organisation)."""

    class Meta:
        model = Membership
        fields = ("user", "role", "municipality", "contractor")

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        municipality, contractor = cleaned.get("municipality"), cleaned.get("contractor")
        if role == Role.CONTRACTOR and (contractor is None or municipality is not None):
            self.add_error(
                "role",
                _(
                    "Contractor staff belong to a contractor: choose the contractor and "
                    "leave the municipality empty."
                ),
            )
        elif role and role != Role.CONTRACTOR and (municipality is None or contractor is not None):
            self.add_error(
                "role",
                _(
                    "City staff, managers and auditors belong to a municipality: choose the "
                    "municipality and leave the contractor empty."
                ),
            )
        return cleaned


class MembershipInline(admin.StackedInline):
    model = Membership
    form = MembershipForm
    can_delete = False
    extra = 0


@admin.register(User)
class TadasuUserAdmin(AuditedAdminMixin, UserAdmin):
    inlines = [MembershipInline]
    fieldsets = (*UserAdmin.fieldsets, (None, {"fields": ("language",)}))
    list_display = ("username", "first_name", "last_name", "is_staff", "is_active")

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        # Django saves the new password and logs it outside a transaction: one here, so
        # that the password and its audit entry are kept together or not at all.
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().user_change_password(request, id, form_url)


class OfficeInline(admin.TabularInline):
    model = Office
    extra = 0


class MunicipalityForm(forms.ModelForm):
    """The designated account number is never shown back (only its last digits, in the help
    text): left empty it stays as it is. The seal is replaced by uploading a new image,
    checked as the set-up checks it."""

    payment_account_number = forms.CharField(
        label=_("designated account: number"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    seal_upload = forms.FileField(label=_("official seal image (PNG or JPEG)"), required=False)

    class Meta:
        model = Municipality
        # Every field but the seal's bytes (replaced through seal_upload).
        fields = [f.name for f in Municipality._meta.fields if f.editable and not f.primary_key]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.payment_account_number if self.instance.pk else ""
        self.fields["payment_account_number"].help_text = (
            _("Stored: %(masked)s. Leave empty to keep it.") % {"masked": mask(stored)}
            if stored
            else _("Seven digits.")
        )

    def clean_payment_account_number(self) -> str:
        number = self.cleaned_data["payment_account_number"].strip()
        if not number:
            return self.instance.payment_account_number if self.instance.pk else ""
        if not (number.isascii() and number.isdigit() and len(number) == 7):
            raise forms.ValidationError(_("Enter the account number as its seven digits."))
        return number

    def clean_seal_upload(self):
        upload = self.cleaned_data.get("seal_upload")
        if upload is None:
            return None
        data = upload.read(SEAL_MAX_BYTES + 1)
        problem = seal_problem(data)
        if problem:
            raise forms.ValidationError(problem)
        return data

    def save(self, commit: bool = True):
        if self.cleaned_data.get("seal_upload"):
            self.instance.seal_image = self.cleaned_data["seal_upload"]
        return super().save(commit)


@admin.register(Municipality)
class MunicipalityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = MunicipalityForm
    list_display = ("code", "name", "kind", "department", "contact_phone")
    search_fields = ("code", "name")
    inlines = [OfficeInline]


@admin.register(Office)
class OfficeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "municipality", "active")
    list_filter = ("municipality", "active")
    search_fields = ("name",)


@admin.register(Contractor)
class ContractorAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name",)
    filter_horizontal = ("municipalities",)
    search_fields = ("name",)


@admin.register(Agency)
class AgencyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(Membership)
class MembershipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ("user", "role", "municipality", "contractor")
    list_filter = ("role", "municipality", "contractor")
    search_fields = ("user__username",)
