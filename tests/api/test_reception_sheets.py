"""Starting a reception-sheet import through the API: the upload page, its mapping and its
confirmation in one multipart request, with the pages' rules, messages and outcome."""

from html import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from api.tokens import token_create
from cases import storage
from jobs.models import Job, JobKind, JobState
from jobs.worker import work_off
from receptions import sheets
from receptions.models import PendingUpload, Reception, ReceptionSheet
from tests.conftest import point_file_storages
from tests.factories import ContractorFactory
from tests.receptions.sheets import HEADER, PAGE_MAPPING, reception_csv, reception_xlsx

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/reception-sheets/"
MY_NUMBER = "123456789018"


@pytest.fixture(autouse=True)
def _own_storage(settings, tmp_path):
    # The uploads storage of this test alone: a refusal must leave no file behind.
    point_file_storages(settings, tmp_path / "files")


def _rows(world):
    return [
        (world.office.name, "2", "2023-02-07 10:15", "10:25", "鈴木 次郎", "途中退席", "未", "未"),
        (world.office.name, "2", "2023-02-07 10:30", "10:55", "佐藤 花子", "完了", "済", "済"),
    ]


def _send(user_or_token, data: bytes | None, *, file_name="uketsuke.csv", headers=None, **fields):
    token = user_or_token if isinstance(user_or_token, str) else token_for(user_or_token)
    body = dict(fields)
    if data is not None:
        body["file"] = SimpleUploadedFile(file_name, data)
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    return Client().post(URL, body, headers=headers)


def _stored() -> tuple[int, int, int, int]:
    """Uploads, jobs, receptions, and files in the uploads storage."""
    try:
        _folders, files = storage.uploads().listdir("")
    except FileNotFoundError:  # nothing was ever written
        files = []
    with scopes_disabled():
        return (
            PendingUpload.objects.count(),
            Job.objects.count(),
            Reception.objects.count(),
            len(files),
        )


def _receptions() -> list[tuple]:
    with scopes_disabled():
        return list(
            Reception.objects.order_by("row_number").values_list(
                "municipality_id",
                "office_id",
                "terminal",
                "started_at",
                "ended_at",
                "citizen_name",
                "outcome",
                "contractor_id",
                "row_number",
            )
        )


def _through_the_pages(world, data: bytes) -> None:
    client = Client()
    client.force_login(world.staff)
    client.post(reverse("receptions:upload"), {"file": SimpleUploadedFile("u.csv", data)})
    fields = {**PAGE_MAPPING, "contractor": world.contractor_co.pk}
    response = client.post(reverse("receptions:preview"), fields)
    assert response.status_code == 302 and "/jobs/" in response["Location"]
    assert work_off() == 1


def test_a_sheet_posted_through_the_api_imports_as_through_the_pages(world):
    data = reception_csv(_rows(world), encoding="cp932")
    _through_the_pages(world, data)
    by_pages = _receptions()
    with scopes_disabled():
        Reception.objects.all().delete()
        ReceptionSheet.objects.all().delete()
    assert _receptions() == []

    # The twin through the API: the columns guessed from the header, the contractor sent.
    answer = _send(world.staff, data, contractor=world.contractor_co.pk)
    assert answer.status_code == 202, answer.content
    job = answer.json()
    assert answer["Location"] == f"/api/v1/jobs/{job['id']}/"
    assert (job["kind"], job["state"], job["done"], job["total"]) == (
        JobKind.RECEPTION_IMPORT,
        JobState.QUEUED,
        0,
        2,
    )
    assert _receptions() == []  # queued, not yet run
    assert work_off() == 1
    assert _receptions() == by_pages and len(by_pages) == 2
    # The job's progress and outcome are read at its URL.
    reader = ApiClient(token_for(world.staff))
    done = reader.get(answer["Location"]).json()
    assert (done["state"], done["done"], done["total"]) == (JobState.DONE, 2, 2)
    assert "2件の受付を取り込みました" in done["summary"]
    with scopes_disabled():
        assert not PendingUpload.objects.exists()  # the upload went with the import


def test_mapping_fields_override_the_guess_as_the_pages_selects_do(world):
    # A header the page cannot read: every column must be named.
    header = ("a", "b", "c", "d", "e", "f", "g", "h")
    data = reception_csv(_rows(world), header=header)
    answer = _send(world.manager, data, **PAGE_MAPPING)
    assert answer.status_code == 202, answer.content
    assert work_off() == 1
    names = {r[5] for r in _receptions()}
    assert names == {"鈴木 次郎", "佐藤 花子"}


def test_without_a_complete_mapping_the_columns_to_map_are_listed_and_nothing_kept(world):
    header = ("a", "b", "c", "d", "e", "f", "g", "h")
    data = reception_csv(_rows(world), header=header)
    answer = _send(world.staff, data, office=0, terminal=1)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert {e["field"] for e in errors} == {"start", "name", "outcome"}
    assert all(e["message"] for e in errors)
    assert _stored() == (0, 0, 0, 0)


def test_a_column_outside_the_sheet_is_the_selects_message(world):
    answer = _send(world.staff, reception_csv(_rows(world)), name="99")
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["name"]
    assert _stored() == (0, 0, 0, 0)


def test_a_contractor_that_does_not_serve_the_city_is_refused(world):
    other = ContractorFactory(name="株式会社よそ", serves=[world.other_city])
    answer = _send(world.staff, reception_csv(_rows(world)), contractor=other.pk)
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["contractor"]
    assert _stored() == (0, 0, 0, 0)


def _bad_files(world):
    good = _rows(world)
    my_number = [(*good[0][:4], MY_NUMBER, "完了")]
    return {
        "empty": (b"", "uketsuke.csv", "空でした"),
        "not a sheet": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "photo.png", "Shift_JIS"),
        "broken xlsx": (b"PK\x03\x04 not really a zip", "uketsuke.xlsx", None),
        "my number in a cell": (reception_csv(my_number), "uketsuke.csv", "個人番号"),
        "my number in an xlsx": (reception_xlsx(my_number), "uketsuke.xlsx", "個人番号"),
        "my number in the name": (reception_csv(good), f"{MY_NUMBER}.csv", "個人番号"),
        "wrong encoding": ("受付窓口,端末\n".encode("utf-16"), "uketsuke.csv", "Shift_JIS"),
        "header only": (",".join(HEADER).encode(), "uketsuke.csv", None),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "not a sheet",
        "broken xlsx",
        "my number in a cell",
        "my number in an xlsx",
        "my number in the name",
        "wrong encoding",
        "header only",
    ],
)
def test_a_bad_file_is_a_400_with_the_pages_message_and_nothing_is_stored(world, kind):
    data, name, words = _bad_files(world)[kind]
    answer = _send(world.staff, data, file_name=name)
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    [error] = answer.json()["errors"]
    assert error["field"] == "file" and error["message"]
    if words:
        assert words in error["message"]
    assert MY_NUMBER not in answer.content.decode()
    assert _stored() == (0, 0, 0, 0)
    # The page says the same, word for word.
    client = Client()
    client.force_login(world.staff)
    page = client.post(reverse("receptions:upload"), {"file": SimpleUploadedFile(name, data)})
    assert page.status_code == 200
    assert escape(error["message"]) in page.content.decode()


def test_a_file_too_large_is_refused_before_it_is_read(world, monkeypatch):
    monkeypatch.setattr(sheets, "max_bytes", lambda: 100)
    answer = _send(world.staff, reception_csv(_rows(world)))
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "file", "message": "ファイルが大きすぎます。"}]
    assert _stored() == (0, 0, 0, 0)


def test_no_file_is_the_forms_required_message(world):
    answer = _send(world.staff, None)
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["file"]


def test_messages_in_english_when_asked(world):
    answer = _send(world.staff, b"", headers={"Accept-Language": "en"}, file_name="uketsuke.csv")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["message"] == "The submitted file is empty."


def test_json_instead_of_multipart_is_a_415_problem(world):
    answer = ApiClient(token_for(world.staff)).post(URL, {"file": "x"})
    assert answer.status_code == 415
    assert answer.json()["title"] == (
        "受付表は multipart/form-data 形式で、ファイルを「file」欄に入れて送信してください。"
    )
    assert answer["Content-Type"] == "application/problem+json"
    assert _stored() == (0, 0, 0, 0)


@pytest.mark.parametrize("persona", ["contractor", "other_contractor", "auditor"])
def test_who_cannot_import_on_the_page_gets_a_403_and_nothing_is_read(world, persona):
    answer = _send(getattr(world, persona), reception_csv(_rows(world)))
    assert answer.status_code == 403
    assert answer.json()["detail"] == "受付表の取込は、自治体の担当者と管理職のみが行えます。"
    assert _stored() == (0, 0, 0, 0)


def test_a_managers_service_token_for_a_contractor_cannot_import(world):
    _token, secret = token_create(user=world.contractor, name="委託先連携", by=world.manager)
    answer = _send(secret, reception_csv(_rows(world)))
    assert answer.status_code == 403
    assert _stored() == (0, 0, 0, 0)


def test_staff_of_another_city_import_into_their_own_city_only(world):
    # みなと市's staff name the city's office: the import job refuses it, as on the page.
    answer = _send(world.staff_other_city, reception_csv(_rows(world)))
    assert answer.status_code == 202
    with scopes_disabled():
        assert Job.objects.get().municipality_id == world.other_city.pk
    assert work_off() == 1
    job = ApiClient(token_for(world.staff_other_city)).get(answer["Location"]).json()
    assert job["state"] == JobState.FAILED and job["error"]
    assert _receptions() == []
    # And the city's staff do not see that job.
    assert ApiClient(token_for(world.staff)).get(answer["Location"]).status_code == 404


def test_two_sheets_posted_before_the_worker_runs_are_both_imported(world):
    # A desk system sends each day's sheets in a row; the first must not be dropped when
    # the second is uploaded before any job has run.
    first = _send(world.staff, reception_csv(_rows(world)), file_name="day1.csv")
    later = [(world.office.name, "3", "2023-02-08 09:00", "09:20", "高橋 三郎", "完了")]
    second = _send(world.staff, reception_csv(later), file_name="day2.csv")
    assert (first.status_code, second.status_code) == (202, 202)
    assert work_off() == 2
    reader = ApiClient(token_for(world.staff))
    for answer in (first, second):
        assert reader.get(answer["Location"]).json()["state"] == JobState.DONE
    assert len(_receptions()) == 3
    # Each job discarded its own upload (the files go after the commit, not run here).
    assert _stored()[:3] == (0, 2, 3)
