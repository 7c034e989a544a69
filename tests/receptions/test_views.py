"""What users see: upload, preview and confirm; row errors; checklists; the counterpart."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import engines
from django.urls import reverse
from django.utils import translation
from django_scopes import scopes_disabled

from cases import services as case_services
from cases.models import CaseKind, Party, TimelineEvent
from cases.scoping import tenant_scope
from jobs.worker import work_off
from receptions.forms import ReceptionSearchForm
from receptions.models import ChecklistRecord, Counterpart, PendingUpload, Reception
from tests.factories import CaseFactory, OfficeFactory

from .sheets import PAGE_MAPPING, reception_csv

pytestmark = pytest.mark.django_db
MY_NUMBER = "123456789018"


def _upload(client, data: bytes, name="uketsuke.csv"):
    return client.post(
        reverse("receptions:upload"), {"file": SimpleUploadedFile(name, data)}, follow=True
    )


def _rows(world):
    return [
        (world.office.name, "2", "2023-02-07 10:15", "10:25", "鈴木 次郎", "途中退席", "未", "未"),
        (world.office.name, "2", "2023-02-07 10:30", "10:55", "佐藤 花子", "完了", "済", "済"),
    ]


def _confirm(client, **overrides):
    fields = {**PAGE_MAPPING, "contractor": ""}
    response = client.post(reverse("receptions:preview"), fields | overrides, follow=True)
    if response.redirect_chain and "/jobs/" in response.redirect_chain[-1][0]:
        # The import is a job: a worker runs it, and the job's page then shows the outcome.
        assert work_off() == 1
        response = client.get(response.redirect_chain[-1][0])
    return response


def test_upload_preview_and_confirm(client, world):
    client.force_login(world.staff)
    preview = _upload(client, reception_csv(_rows(world), encoding="cp932"))
    text = preview.content.decode()
    assert "列の確認" in text or "Check the columns" in text
    assert "佐藤 花子" in text  # the first rows of the sheet
    # The columns were guessed from the Japanese header.
    assert '<option value="4" selected>5: 氏名</option>' in text
    done = _confirm(client)
    text = done.content.decode()
    assert "2件の受付を取り込みました" in text
    with scopes_disabled():
        assert Reception.objects.count() == 2
        assert not PendingUpload.objects.exists()
    # The upload is gone: confirming again imports nothing more.
    _confirm(client)
    with scopes_disabled():
        assert Reception.objects.count() == 2


def test_bad_rows_are_listed_with_their_line_and_nothing_is_imported(client, world):
    client.force_login(world.staff)
    rows = [*_rows(world), (world.office.name, "2", "2023-02-07 25:00", "", "誰か", "なし")]
    _upload(client, reception_csv(rows))
    response = _confirm(client)
    text = response.content.decode()
    assert response.status_code == 200
    assert "取り込んでいません" in text
    assert "4行目" in text and "開始時刻" in text
    with scopes_disabled():
        assert not Reception.objects.exists()


def test_messages_are_in_english_for_an_english_user(client, world):
    world.staff.language = "en"
    world.staff.save()
    client.force_login(world.staff)
    rows = [(world.office.name, "2", "not a time", "", "誰か", "完了")]
    _upload(client, reception_csv(rows))
    text = _confirm(client).content.decode()
    assert "Line 2" in text and "Write a date and time such as 2023-02-07 10:15." in text


def test_a_sheet_with_a_my_number_is_refused_at_upload_without_echoing_it(client, world):
    client.force_login(world.staff)
    rows = [(*_rows(world)[0][:4], MY_NUMBER, "完了")]
    response = _upload(client, reception_csv(rows))
    text = response.content.decode()
    assert "個人番号" in text and MY_NUMBER not in text
    with scopes_disabled():
        assert not PendingUpload.objects.exists()


def test_an_upload_expires(client, world, settings):
    settings.TADASU_RECEPTION_UPLOAD_MINUTES = 0
    client.force_login(world.staff)
    _upload(client, reception_csv(_rows(world)))
    response = _confirm(client)
    assert response.redirect_chain[-1][0] == reverse("receptions:upload")
    with scopes_disabled():
        assert not Reception.objects.exists()


def test_contractor_records_the_checklist_of_its_own_desk_only(client, world, import_rows):
    sheet = import_rows(_rows(world))
    other = import_rows(
        [(world.office.name, "1", "2023-02-08 10:00", "", "他社 花子", "完了")],
        contractor=world.other_co,
        file_name="other.csv",
    )
    with scopes_disabled():
        d = sheet.receptions.get(citizen_name="鈴木 次郎")
        foreign = other.receptions.get()
    client.force_login(world.contractor)
    items = [
        "card_returned",
        "portal_logged_out",
        "screen_closed",
        "citizen_signed",
        "staff_signed",
    ]
    response = client.post(
        reverse("receptions:checklist", kwargs={"reception_id": d.pk}), dict.fromkeys(items, "on")
    )
    assert response.status_code == 302
    with scopes_disabled():
        d.refresh_from_db()
        assert d.checklist_signed and ChecklistRecord.objects.get(reception=d).complete
    url = reverse("receptions:checklist", kwargs={"reception_id": foreign.pk})
    assert client.get(url).status_code == 404
    # Its sheet page lists its own receptions only.
    text = client.get(reverse("receptions:index")).content.decode()
    assert "other.csv" not in text and "uketsuke.csv" in text


def test_an_incomplete_checklist_leaves_the_reception_unsigned(client, world, import_rows):
    sheet = import_rows(_rows(world))
    with scopes_disabled():
        c = sheet.receptions.get(citizen_name="佐藤 花子")
    client.force_login(world.staff)
    client.post(
        reverse("receptions:checklist", kwargs={"reception_id": c.pk}), {"card_returned": "on"}
    )
    with scopes_disabled():
        c.refresh_from_db()
    assert not c.checklist_signed


@pytest.fixture
def case_b(world):
    """A case at world.office with C identified and the other person not yet."""
    with tenant_scope(world.staff):
        case = case_services.case_open(
            by=world.staff,
            office=world.office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=world.contractor_co,
            discovered_on=date(2023, 2, 7),
        )
        case_services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
        case_services.party_add(
            case=case, by=world.staff, label="D氏", identified=False, identification_note="照会中"
        )
    return case


def test_case_page_ranks_the_counterpart_and_one_click_identifies_the_party(
    client, world, import_rows, case_b
):
    sheet = import_rows(_rows(world))
    with scopes_disabled():
        c = sheet.receptions.get(citizen_name="佐藤 花子")
        d = sheet.receptions.get(citizen_name="鈴木 次郎")
    client.force_login(world.staff)
    url = reverse("cases:detail", kwargs={"ref": case_b.reference})
    page = client.get(url).content.decode()
    assert "鈴木 次郎" in page  # the desk's receptions of that day are listed
    page = client.get(url, {"affected": c.pk}).content.decode()
    assert "途中で退席されています" in page or "left mid-way" in page
    add = reverse(
        "receptions:counterpart_add", kwargs={"ref": case_b.reference, "reception_id": d.pk}
    )
    assert add in page
    client.post(add, {"affected": c.pk})
    client.post(add, {"affected": c.pk})  # a double click
    with scopes_disabled():
        party = Party.objects.get(case=case_b, label="D氏")
        assert party.identified and party.name == "鈴木 次郎"
        assert Counterpart.objects.filter(case=case_b).count() == 1
        assert (
            TimelineEvent.objects.filter(case=case_b, action="reception.counterpart_added").count()
            == 1
        )
    page = client.get(url, {"affected": c.pk}).content.decode()
    assert "この案件の関係者として登録済みです" in page


def test_auditor_sees_the_ranking_but_no_button(client, world, import_rows, case_b):
    sheet = import_rows(_rows(world))
    with scopes_disabled():
        c = sheet.receptions.get(citizen_name="佐藤 花子")
    client.force_login(world.auditor)
    page = client.get(
        reverse("cases:detail", kwargs={"ref": case_b.reference}), {"affected": c.pk}
    ).content.decode()
    assert "鈴木 次郎" in page and "counterpart/" not in page


def test_search_by_name_in_any_kana(client, world, import_rows, case_b):
    import_rows(
        [(world.office.name, "1", "2023-02-09 10:00", "", "さとう はなこ", "完了")],
        file_name="kana.csv",
    )
    import_rows(
        [(world.office.name, "2", "2023-02-09 11:00", "", "鈴木 次郎", "完了")],
        file_name="other.csv",
    )
    client.force_login(world.staff)
    response = client.post(
        reverse("receptions:search", kwargs={"ref": case_b.reference}),
        {"rq": "ｻﾄｳ", "ron": "", "roffice": ""},
        follow=True,
    )
    page = response.content.decode()
    assert "さとう はなこ" in page and "鈴木 次郎" not in page
    # The name is in no URL on the way: the case page carries a token for it.
    [(url, status)] = response.redirect_chain
    assert status == 303 and "rs=" in url and "ｻﾄｳ" not in url and "%EF%BD" not in url


def test_an_excel_sheet_goes_through_preview_and_is_known_again_by_its_own_hash(client, world):
    from datetime import datetime

    from .sheets import reception_xlsx

    data = reception_xlsx(
        [(world.office.name, 2, datetime(2023, 2, 7, 10, 15, 30), None, "鈴木 次郎", "中断", True)]
    )
    client.force_login(world.staff)
    _upload(client, data, name="uketsuke.xlsx")
    _confirm(client)
    with scopes_disabled():
        r = Reception.objects.get()
        assert r.started_at.second == 30 and r.leader_checked and r.terminal == "2"
    _upload(client, data, name="again.xlsx")
    text = _confirm(client).content.decode()
    assert "取込済み" in text
    with scopes_disabled():
        assert Reception.objects.count() == 1


JUNK = ["", "-1", "99", "abc", "\x00", "1e9", str(2**63), "あ" * 5000, ["1", "2"]]


def test_junk_in_the_column_choices_never_fails_and_imports_nothing(client, world):
    client.force_login(world.staff)
    _upload(client, reception_csv(_rows(world)))
    fields = ["office", "terminal", "start", "end", "name", "outcome", "leader", "contractor"]
    for field in fields:
        for value in JUNK:
            response = _confirm(client, **{field: value, "terminal": 0})  # one column twice
            assert response.status_code == 200
    with scopes_disabled():
        assert not Reception.objects.exists()
        assert PendingUpload.objects.count() == 1


def test_the_completion_panel_renders_without_queries(
    world, import_rows, django_assert_num_queries
):
    from django.template.loader import render_to_string

    from receptions.selectors import completion_rates

    import_rows(_rows(world))
    with tenant_scope(world.manager):
        panel = completion_rates()
    with django_assert_num_queries(0):
        html = render_to_string("receptions/completion_panel.html", {"panel": panel})
    assert "50.0%" in html


def test_a_confirmation_that_fails_after_queuing_the_import_leaves_no_job(
    client, world, monkeypatch
):
    from django.test import Client
    from django_tasks_db.models import DBTaskResult

    from jobs.models import Job
    from receptions import views

    failing = Client(raise_request_exception=False)
    failing.force_login(world.staff)
    _upload(failing, reception_csv(_rows(world)))

    def broken_redirect(*args, **kwargs):
        raise RuntimeError("the request fails after the job was queued")

    monkeypatch.setattr(views, "redirect", broken_redirect)
    fields = {"office": 0, "terminal": 1, "start": 2, "end": 3, "name": 4, "outcome": 5}
    response = failing.post(reverse("receptions:preview"), fields | {"contractor": ""})
    assert response.status_code == 500
    with scopes_disabled():
        assert not Job.objects.exists()
        assert PendingUpload.objects.exists()  # the upload waits for another try
    assert not DBTaskResult.objects.exists()


FIELDS = engines["django"].from_string(
    "{% for field in form %}{% include 'includes/field.html' %}{% endfor %}"
)


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("day", [date(2023, 2, 7), date(2019, 4, 30), None])
def test_search_box_as_first_shown_is_what_the_search_form_renders(client, world, language, day):
    """The case page writes the search box out before any search (receptions/search_box.html);
    it is, to the byte, the unbound ReceptionSearchForm through includes/field.html: labels,
    ids, the date and its hint in 和暦 (the day found when the day it happened is unknown),
    the offices and the one chosen."""
    OfficeFactory(municipality=world.city, name="あ区役所 窓口")  # sorted before world.office
    with scopes_disabled():
        case = CaseFactory(office=world.office, occurred_on=day, discovered_on=date(2019, 4, 1))
    world.staff.language = language
    world.staff.save()
    client.force_login(world.staff)
    page = client.get(reverse("cases:detail", kwargs={"ref": case.reference})).content.decode()
    with translation.override(language), scopes_disabled():
        form = ReceptionSearchForm(
            municipality_id=world.city.pk,
            initial={"ron": day or case.discovered_on, "roffice": world.office.pk},
        )
        expected = FIELDS.render({"form": form})
    assert expected in page
    assert 'class="date-wareki"' in expected
    assert expected.count("<option") == world.city.offices.count() + 1
