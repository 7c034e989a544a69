"""Admin for reference data only. Cases are worked in the app, through its services."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Agency, Contractor, Membership, Municipality, Office, User


class MembershipInline(admin.StackedInline):
    model = Membership
    can_delete = False
    extra = 0


@admin.register(User)
class TadasuUserAdmin(UserAdmin):
    inlines = [MembershipInline]
    fieldsets = (*UserAdmin.fieldsets, (None, {"fields": ("language",)}))
    list_display = ("username", "first_name", "last_name", "is_staff", "is_active")


class OfficeInline(admin.TabularInline):
    model = Office
    extra = 0


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "department", "contact_phone")
    search_fields = ("code", "name")
    inlines = [OfficeInline]


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ("name", "municipality", "active")
    list_filter = ("municipality", "active")
    search_fields = ("name",)


@admin.register(Contractor)
class ContractorAdmin(admin.ModelAdmin):
    list_display = ("name",)
    filter_horizontal = ("municipalities",)
    search_fields = ("name",)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "kind")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "municipality", "contractor")
    list_filter = ("role", "municipality", "contractor")
    search_fields = ("user__username",)
