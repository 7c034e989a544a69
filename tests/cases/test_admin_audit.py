"""Changes made in /admin/ are audited: each kind of object, through the admin's own pages,
with old and new values (no password, personal data masked), in the trail of the
municipality concerned, and not at all when the save fails."""

import json
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError

from cases.admin_audit import AuditedAdminMixin
from cases.models import Agency, AuditEntry, Contractor, Membership, Municipality, Office, Role

from ..factories import MunicipalityFactory, UserFactory, member

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """The fields of the page's main form as a browser would submit them unchanged."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            default = "on" if a.get("type") in ("checkbox", "radio") else ""
            self.data.setdefault(name, []).append(a.get("value", default))
        elif tag == "select" and name:
            self.select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in a:
            self.data[self.select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = [""]

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_of(response, **changes) -> dict:
    """The form on the page, with some fields changed (None removes one)."""
    parser = _FormFields()
    parser.feed(response.content.decode())
    data = {k: v for k, v in parser.data.items() if k not in ("action", "select_across")}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value if isinstance(value, list) else [str(value)]
    return data


def trail(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def dumped(entries) -> str:
    return json.dumps([e.data for e in entries], ensure_ascii=False)


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


def change(root_client, model: str, obj, **changes):
    url = f"/admin/cases/{model}/{obj.pk}/change/"
    return root_client.post(url, form_of(root_client.get(url), **changes))


# ---- access: memberships and users --------------------------------------------------------


def test_giving_a_contractor_user_another_company_is_audited(root_client, superuser, world):
    membership = world.contractor.membership
    response = change(root_client, "membership", membership, contractor=world.other_co.pk)
    assert response.status_code == 302

    [entry] = trail("tadasu.admin.membership.changed")
    assert entry.user == superuser
    assert entry.object_type == "cases.membership"
    assert entry.object_id == str(membership.pk)
    assert entry.municipality_id is None  # a company's staff: no one city's trail
    assert entry.data["fields"] == ["contractor"]
    assert entry.data["changes"]["contractor"] == [
        f"株式会社エイジェック [{world.contractor_co.pk}]",
        f"株式会社みらい窓口サービス [{world.other_co.pk}]",
    ]


def test_making_the_admin_user_a_manager_is_audited_in_the_citys_trail(
    root_client, superuser, world
):
    url = f"/admin/cases/user/{superuser.pk}/change/"
    data = form_of(root_client.get(url))
    data |= {
        "membership-TOTAL_FORMS": ["1"],
        "membership-0-role": [Role.MANAGER],
        "membership-0-municipality": [str(world.city.pk)],
        "membership-0-contractor": [""],
        "membership-0-user": [str(superuser.pk)],
    }
    assert root_client.post(url, data).status_code == 302
    assert Membership.objects.get(user=superuser).role == Role.MANAGER

    [entry] = trail("tadasu.admin.membership.added")
    assert entry.municipality_id == world.city.pk  # the city's auditors see it
    assert entry.data["via"] == f"root [{superuser.pk}]"
    assert entry.data["values"]["role"] == "manager"
    assert entry.data["values"]["municipality"] == f"北九州市 [{world.city.pk}]"
    # The user's own fields did not change: no entry for the user.
    assert trail("tadasu.admin.user.changed") == []


def test_moving_a_manager_to_another_city_is_audited_in_both_cities(root_client, world):
    membership = world.manager.membership
    change(root_client, "membership", membership, municipality=world.other_city.pk)
    entries = trail("tadasu.admin.membership.changed")
    assert sorted(e.municipality_id for e in entries) == sorted(
        [world.city.pk, world.other_city.pk]
    )
    assert entries[0].data["changes"]["municipality"] == [
        f"北九州市 [{world.city.pk}]",
        f"みなと市 [{world.other_city.pk}]",
    ]


def test_a_role_that_does_not_fit_its_organisation_is_said_next_to_the_role(root_client, world):
    membership = world.staff.membership
    response = change(root_client, "membership", membership, role=Role.CONTRACTOR)
    assert response.status_code == 200
    page = response.content.decode()
    assert "membership_role_matches_organisation" not in page
    errors = response.context["adminform"].form.errors
    assert errors["role"] == [
        "委託事業者職員は委託事業者に所属します。委託事業者を選び、自治体は空欄にしてください。"
    ]
    assert errors["role"][0] in page
    membership.refresh_from_db()
    assert membership.role == Role.STAFF
    assert AuditEntry.objects.filter(action__startswith="tadasu.admin.").count() == 0


def test_a_city_role_without_a_municipality_is_said_next_to_the_role(root_client, world):
    response = change(
        root_client,
        "membership",
        world.contractor.membership,
        role=Role.AUDITOR,
    )
    assert response.context["adminform"].form.errors["role"] == [
        "市担当・課長・監査は自治体に所属します。自治体を選び、委託事業者は空欄にしてください。"
    ]


def test_a_users_names_and_address_are_masked_and_their_rights_in_clear(root_client, world):
    user = world.staff
    user.first_name, user.email = "花子", "hanako@example.jp"
    user.save()
    change(
        root_client,
        "user",
        user,
        first_name="次郎",
        email="jiro@example.jp",
        is_staff="on",
    )
    [entry] = trail("tadasu.admin.user.changed")
    assert entry.municipality_id == world.city.pk  # the user's city, through the membership
    assert entry.data["fields"] == ["email", "first_name", "is_staff"]
    assert entry.data["changes"]["first_name"] == ["花＊＊", "次＊＊"]
    assert entry.data["changes"]["email"] == ["＊＊＊＊e.jp", "＊＊＊＊e.jp"]
    assert entry.data["changes"]["is_staff"] == [False, True]
    assert "花子" not in dumped([entry]) and "jiro@" not in dumped([entry])


def test_a_password_changed_in_the_admin_is_only_said_to_have_changed(root_client, world):
    user = world.staff
    url = f"/admin/cases/user/{user.pk}/password/"
    data = form_of(root_client.get(url), password1="Kawaru-pass-2026", password2="Kawaru-pass-2026")
    assert root_client.post(url, data).status_code == 302
    user.refresh_from_db()
    assert user.check_password("Kawaru-pass-2026")

    [entry] = trail("tadasu.admin.user.changed")
    assert entry.data["fields"] == ["password"]
    assert entry.data["password"] == "password changed"
    text = dumped(AuditEntry.objects.all())
    assert "Kawaru-pass-2026" not in text and user.password not in text


def test_a_failed_password_change_leaves_neither_password_nor_entry(
    root_client, world, monkeypatch
):
    # Django saves the password and logs it outside any transaction; a failure after the
    # entry (here, in refreshing the session) must take both back.
    def fail(*args, **kwargs):
        raise IntegrityError("the session could not be saved")

    monkeypatch.setattr("django.contrib.auth.admin.update_session_auth_hash", fail)
    user = world.staff
    url = f"/admin/cases/user/{user.pk}/password/"
    data = form_of(root_client.get(url), password1="Kawaru-pass-2026", password2="Kawaru-pass-2026")
    with pytest.raises(IntegrityError):
        root_client.post(url, data)
    user.refresh_from_db()
    assert not user.check_password("Kawaru-pass-2026")
    assert trail("tadasu.admin.user.changed") == []


def test_adding_a_user_is_audited_without_the_password(root_client, superuser):
    url = "/admin/cases/user/add/"
    data = form_of(
        root_client.get(url),
        username="new-clerk",
        password1="Atarashii-pass-2026",
        password2="Atarashii-pass-2026",
        usable_password="true",
    )
    assert root_client.post(url, data).status_code == 302

    [entry] = trail("tadasu.admin.user.added")
    assert entry.data["object"] == "new-clerk"
    assert entry.data["values"]["username"] == "new-clerk"
    assert entry.data["password"] == "password set"
    assert "password" not in entry.data["values"]
    hashed = entry.user.__class__.objects.get(username="new-clerk").password
    assert "Atarashii-pass-2026" not in dumped([entry]) and hashed not in dumped([entry])


def test_deleting_a_user_names_the_membership_that_went_with_it(root_client, world):
    user = member(Role.AUDITOR, municipality=world.city, username="leaving")
    response = root_client.post(f"/admin/cases/user/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    [entry] = trail("tadasu.admin.user.deleted")
    assert entry.object_id == str(user.pk)
    assert entry.municipality_id == world.city.pk
    assert entry.data["values"]["username"] == "leaving"
    assert entry.data["values"]["membership"].startswith("leaving (")
    assert entry.data["also_deleted"]["cases.membership"] == 1
    assert "password" not in entry.data["values"]


# ---- organisations, offices, document settings --------------------------------------------


def test_document_settings_of_a_municipality_are_audited_in_its_trail(root_client, world):
    world.city.sender_name = "北橋 健治"
    world.city.save()
    change(
        root_client,
        "municipality",
        world.city,
        sender_title="北九州市長",
        sender_name="武内 和久",
        documents_need_approval="on",
    )
    [entry] = trail("tadasu.admin.municipality.changed")
    assert entry.municipality_id == world.city.pk
    assert entry.data["fields"] == ["documents_need_approval", "sender_name", "sender_title"]
    assert entry.data["changes"]["sender_title"] == ["", "北九州市長"]
    assert entry.data["changes"]["documents_need_approval"] == [False, True]
    assert entry.data["changes"]["sender_name"] == ["北＊＊", "武＊＊"]


def test_offices_added_and_deleted_on_the_municipality_page_are_audited(root_client, world):
    url = f"/admin/cases/municipality/{world.city.pk}/change/"
    data = form_of(root_client.get(url))
    total = int(data["offices-TOTAL_FORMS"][0])
    deleted = Office.objects.create(municipality=world.city, name="閉鎖した窓口")
    data = form_of(root_client.get(url))
    index = next(
        int(k.split("-")[1])
        for k, v in data.items()
        if k.endswith("-id") and v == [str(deleted.pk)]
    )
    data |= {
        f"offices-{index}-DELETE": ["on"],
        "offices-TOTAL_FORMS": [str(total + 2)],
        f"offices-{total + 1}-name": ["門司区役所 支援窓口"],
        f"offices-{total + 1}-active": ["on"],
        f"offices-{total + 1}-municipality": [str(world.city.pk)],
    }
    response = root_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]

    [added] = trail("tadasu.admin.office.added")
    assert added.municipality_id == world.city.pk
    assert added.data["values"]["name"] == "門司区役所 支援窓口"
    assert added.data["via"] == f"北九州市 [{world.city.pk}]"
    [gone] = trail("tadasu.admin.office.deleted")
    assert gone.object_id == str(deleted.pk)
    assert gone.data["values"]["name"] == "閉鎖した窓口"
    assert trail("tadasu.admin.municipality.changed") == []  # its own fields did not change


def test_an_office_renamed_on_its_own_page_is_audited(root_client, world):
    change(root_client, "office", world.office2, name="小倉南区役所 臨時窓口", active=None)
    [entry] = trail("tadasu.admin.office.changed")
    assert entry.municipality_id == world.city.pk
    assert entry.data["changes"] == {
        "active": [True, False],
        "name": ["小倉南区役所 支援窓口", "小倉南区役所 臨時窓口"],
    }


def test_a_municipality_added_opens_its_own_trail(root_client):
    url = "/admin/cases/municipality/add/"
    data = form_of(root_client.get(url), code="131016", name="千代田区")
    assert root_client.post(url, data).status_code == 302
    municipality = Municipality.objects.get(code="131016")
    [entry] = trail("tadasu.admin.municipality.added")
    assert entry.municipality_id == municipality.pk
    assert entry.data["values"]["name"] == "千代田区"


def test_a_municipality_deleted_is_audited_outside_its_own_trail(root_client):
    municipality = MunicipalityFactory(name="合併で消えた町")
    response = root_client.post(
        f"/admin/cases/municipality/{municipality.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Municipality.objects.filter(pk=municipality.pk).exists()
    [entry] = trail("tadasu.admin.municipality.deleted")
    assert entry.municipality_id is None
    assert entry.data["values"]["name"] == "合併で消えた町"


def test_a_contractor_given_another_city_is_audited_in_that_citys_trail(root_client, world):
    change(
        root_client,
        "contractor",
        world.contractor_co,
        municipalities=[str(world.city.pk), str(world.other_city.pk)],
    )
    [entry] = trail("tadasu.admin.contractor.changed")
    assert entry.municipality_id == world.other_city.pk  # the city it now serves
    assert entry.data["changes"]["municipalities"] == [
        [f"北九州市 [{world.city.pk}]"],
        [f"みなと市 [{world.other_city.pk}]", f"北九州市 [{world.city.pk}]"],
    ]


def test_a_new_contractor_is_audited_in_each_city_it_serves(root_client, world):
    url = "/admin/cases/contractor/add/"
    data = form_of(root_client.get(url), name="株式会社あたらし窓口")
    data["municipalities"] = [str(world.city.pk), str(world.other_city.pk)]
    assert root_client.post(url, data).status_code == 302
    entries = trail("tadasu.admin.contractor.added")
    assert sorted(e.municipality_id for e in entries) == sorted(
        [world.city.pk, world.other_city.pk]
    )


def test_agencies_added_and_deleted_in_bulk_are_audited(root_client):
    url = "/admin/cases/agency/add/"
    data = form_of(root_client.get(url), name="こども家庭庁", kind="national")
    assert root_client.post(url, data).status_code == 302
    [added] = trail("tadasu.admin.agency.added")
    assert added.municipality_id is None
    assert added.data["values"] == {"name": "こども家庭庁", "kind": "national"}

    doomed = [
        Agency.objects.get(name="こども家庭庁"),
        Agency.objects.create(name="某局", kind="other"),
    ]
    response = root_client.post(
        "/admin/cases/agency/",
        {"action": "delete_selected", "_selected_action": [a.pk for a in doomed], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Agency.objects.filter(pk__in=[a.pk for a in doomed]).exists()
    entries = trail("tadasu.admin.agency.deleted")
    assert sorted(e.data["object"] for e in entries) == ["こども家庭庁", "某局"]


def test_a_bulk_delete_that_fails_leaves_no_entry(root_client, monkeypatch):
    # Django logs the deletions, then deletes, outside a transaction: a deletion that
    # fails must take its entries back with it.
    doomed = [Agency.objects.create(name="某局", kind="other")]

    def fail(self, request, queryset):
        raise IntegrityError("refused by the database")

    monkeypatch.setattr(admin.ModelAdmin, "delete_queryset", fail)
    with pytest.raises(IntegrityError):
        root_client.post(
            "/admin/cases/agency/",
            {"action": "delete_selected", "_selected_action": [doomed[0].pk], "post": "yes"},
        )
    assert Agency.objects.filter(pk=doomed[0].pk).exists()
    assert trail("tadasu.admin.agency.deleted") == []


def test_a_change_that_fails_after_it_was_logged_leaves_no_entry(root_client, world, monkeypatch):
    def fail(self, request, obj):
        raise IntegrityError("refused by the database")

    monkeypatch.setattr(admin.ModelAdmin, "response_change", fail)
    with pytest.raises(IntegrityError):
        change(root_client, "membership", world.contractor.membership, contractor=world.other_co.pk)
    assert Membership.objects.get(user=world.contractor).contractor == world.contractor_co
    assert trail("tadasu.admin.membership.changed") == []


def test_an_office_name_taken_is_refused_with_no_entry(root_client, world):
    response = change(root_client, "office", world.office2, name=world.office.name)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert AuditEntry.objects.filter(action__startswith="tadasu.admin.").count() == 0


# ---- what other apps register --------------------------------------------------------------


def test_every_admin_of_the_site_is_audited():
    registered = admin.site._registry
    assert registered, "nothing is registered in the admin"
    for model, model_admin in registered.items():
        assert isinstance(model_admin, AuditedAdminMixin), model
    # Deadlines are set on the managers' page, through a service that audits; the admin
    # offers no way around its checks.
    from cases.models import ClosedDay, StageDeadline

    assert StageDeadline not in registered and ClosedDay not in registered


def test_a_group_given_permissions_is_audited(root_client):
    permission = Permission.objects.get(codename="change_membership")
    url = "/admin/auth/group/add/"
    data = form_of(root_client.get(url), name="窓口管理")
    data["permissions"] = [str(permission.pk)]
    assert root_client.post(url, data).status_code == 302
    [entry] = trail("tadasu.admin.group.added")
    assert entry.data["values"]["permissions"] == [f"{permission} [{permission.pk}]"]
    assert Group.objects.filter(name="窓口管理").exists()


def test_lifting_a_lock_out_is_audited(root_client):
    attempt = AccessAttempt.objects.create(
        username="staff", ip_address="192.0.2.1", failures_since_start=5, user_agent="x"
    )
    response = root_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    [entry] = trail("tadasu.admin.accessattempt.deleted")
    assert entry.data["values"]["username"] == "staff"
    assert entry.data["values"]["failures_since_start"] == 5
    assert "user_agent" not in entry.data["values"]


def test_no_entry_for_a_save_that_changes_nothing(root_client, world):
    change(root_client, "contractor", world.contractor_co)
    assert trail("tadasu.admin.contractor.changed") == []
    assert Contractor.objects.get(pk=world.contractor_co.pk).name == "株式会社エイジェック"
