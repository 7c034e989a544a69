"""A municipality set up from nothing to its first case: `manage.py add_municipality`, the
superuser's page, and every mistake an operator makes, each said clearly."""

import importlib
import io
import json
import re
import shutil
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cases import setup
from cases.agencies import REFERENCE_AGENCIES, ensure_reference_agencies
from cases.issuer import code_is_valid
from cases.models import Agency, AuditEntry, Case, Contractor, Membership, Municipality, User
from cases.setup_checks import SEAL_MAX_BYTES, code_problem
from remedies.models import AgencyContact

from ..endpoints import row_counts
from ..factories import ContractorFactory, MunicipalityFactory, UserFactory

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "municipality.toml"
PASSWORD_LINE = re.compile(r"^\s+(\S+)\t(\S+)$", re.MULTILINE)


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("add_municipality", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing(path: Path, *args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("add_municipality", str(path), *args, stdout=out, stderr=err)
    return err.getvalue() + str(raised.value)


def png(size: tuple[int, int] = (120, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def setup_file(tmp_path) -> Path:
    path = tmp_path / "town.toml"
    shutil.copy(EXAMPLE, path)
    return path


def edited(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_agencies_are_reference_data_in_every_migrated_database():
    names = set(Agency.objects.values_list("name", flat=True))
    assert {name for name, _kind in REFERENCE_AGENCIES} <= names
    # A second run (load_demo, a test world) finds them by name and adds nothing.
    assert ensure_reference_agencies(Agency) == 0
    assert Agency.objects.filter(name="デジタル庁").count() == 1


def test_from_nothing_to_the_first_case_and_its_agency_inquiry(setup_file, client):
    assert not Municipality.objects.exists() and not User.objects.exists()
    out, err = run(setup_file)
    assert err == ""
    assert "みほん町（439002、町）を登録しました。" in out
    assert "＊＊＊＊4567" in out and "1234567" not in out
    passwords = dict(PASSWORD_LINE.findall(out))
    assert set(passwords) == {"yamada-kacho", "mori", "kawa-desk"}

    town = Municipality.objects.get(code="439002")
    assert town.kind == "town" and town.sender_title == "みほん町長"
    contractor = Contractor.objects.get(name="株式会社みほん窓口サービス")
    assert list(contractor.municipalities.all()) == [town]
    assert Membership.objects.get(user__username="kawa-desk").contractor == contractor
    # The set-up is one audit entry in the town's own trail, with no password in it.
    entry = AuditEntry.objects.get(action="tadasu.municipality.set_up")
    assert entry.municipality_id == town.pk
    assert entry.data["designated_account"] == "＊＊＊＊4567" and entry.data["via"] == "command"
    assert not any(p in str(entry.data) for p in passwords.values())

    # The member of staff logs in through the log-in page with the password printed once ...
    response = client.post(
        reverse("login"), {"username": "mori", "password": passwords["mori"]}, follow=True
    )
    assert response.status_code == 200 and response.context["user"].username == "mori"
    # ... opens the first case at one of the town's desks ...
    page = client.get(reverse("cases:new"))
    assert "みほん町役場 住民課窓口" in page.content.decode()
    office = town.offices.get(name="みほん町役場 住民課窓口")
    response = client.post(
        reverse("cases:new"),
        {
            "kind": "account",
            "office": office.pk,
            "contractor": contractor.pk,
            "discovered_on": "2026-12-01",
            "summary": "公金受取口座に別人の口座が登録された。",
            "cause_category": "logout_omitted",
            "cause_text": "ログアウト漏れ",
        },
    )
    with scopes_disabled():
        case = Case.objects.get(municipality=town)
    assert response.status_code == 302 and response.url == reverse(
        "cases:detail", args=[case.reference]
    )
    assert case.reference in client.get(response.url).content.decode()
    # ... and asks the Digital Agency, there without any demo having run.
    url = reverse("remedies:contact_new", kwargs={"ref": case.reference})
    assert "デジタル庁" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "agencies": [Agency.objects.get(name="デジタル庁").pk],
            "made_by": "municipality",
            "contacted_on": "2026-12-02",
            "channel": "email",
            "request": "口座の登録状況を照会。",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        contact = AgencyContact.objects.get(case=case)
    assert [a.name for a in contact.agencies.all()] == ["デジタル庁"]


def test_designated_account_number_is_encrypted_at_rest(setup_file):
    run(setup_file)
    town = Municipality.objects.get(code="439002")
    assert town.payment_account_number == "1234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT payment_account_number FROM cases_municipality WHERE id = %s", [town.pk]
        )
        (stored,) = cursor.fetchone()
    assert "1234567" not in stored and stored.startswith("gAAAAA")


def test_dry_run_checks_and_creates_nothing(setup_file):
    before = row_counts()
    out, _err = run(setup_file, "--dry-run")
    assert "株式会社みほん窓口サービス" in out and "＊＊＊＊4567" in out
    assert row_counts() == before


def test_every_mistake_is_listed_in_japanese_and_nothing_is_created(setup_file, tmp_path):
    ContractorFactory(name="株式会社エイジェック")
    (tmp_path / "seal.png").write_bytes(b"this is no image")
    edited(setup_file, 'code = "439002"', 'code = "ABC"')
    edited(setup_file, 'title = "みほん町長"', 'title = ""')
    edited(setup_file, '# image = "seal.png"', 'image = "seal.png"')
    edited(
        setup_file, 'name = "株式会社みほん窓口サービス"\ncreate = true', 'name = "株式会社ミホン"'
    )
    edited(setup_file, 'role = "staff"', 'role = "staff"\ncontractor = "株式会社エイジェック"')
    before = row_counts()
    said = failing(setup_file)
    assert "municipality.code: 「ABC」は地方公共団体コードではありません" in said
    assert "signatory.title: 署名者の職名を入力してください" in said
    assert "seal.image: 公印の画像がPNGまたはJPEGの画像ではありません" in said
    assert "contractors[1].name: 「株式会社ミホン」という委託事業者は登録されていません" in said
    assert "users[2].contractor: 市担当・課長・監査は自治体に所属します" in said
    assert "users[3].contractor: 「株式会社みほん窓口サービス」は" in said
    assert "6件の誤りがあります。何も登録していません。" in said
    assert row_counts() == before


def test_mistakes_in_english_on_request(setup_file):
    edited(setup_file, 'code = "439002"', 'code = "072011"')
    said = failing(setup_file, "--language", "en")
    assert "municipality.code: The check digit of 072011 does not match" in said


def test_a_code_already_set_up_is_refused(setup_file):
    run(setup_file)
    said = failing(setup_file, "--language", "en")
    assert "municipality.code: A municipality with the code 439002 is already set up." in said
    assert "users[1].username: The user name yamada-kacho is already taken." in said
    assert Municipality.objects.count() == 1


def test_contractor_staff_must_name_their_company(setup_file):
    edited(setup_file, 'contractor = "株式会社みほん窓口サービス"\n', "")
    said = failing(setup_file, "--language", "en")
    assert "users[3].contractor: Contractor staff belong to a contractor" in said


def test_a_seal_too_large_or_not_an_image_is_refused(setup_file, tmp_path):
    (tmp_path / "seal.png").write_bytes(png() + b"\0" * SEAL_MAX_BYTES)
    edited(setup_file, '# image = "seal.png"', 'image = "seal.png"')
    assert "seal.image: The seal image is larger than 512 KB." in failing(
        setup_file, "--language", "en"
    )
    (tmp_path / "seal.png").unlink()
    assert "seal.image: The seal image" in failing(setup_file, "--language", "en")
    assert "cannot be read" in failing(setup_file, "--language", "en")


def test_a_seal_image_is_kept_and_letters_are_sealed(setup_file, tmp_path):
    (tmp_path / "seal.png").write_bytes(png())
    edited(setup_file, '# image = "seal.png"', 'image = "seal.png"')
    edited(setup_file, "sealed = false", "sealed = true")
    run(setup_file)
    town = Municipality.objects.get(code="439002")
    assert town.letters_sealed and bytes(town.seal_image) == png()


def test_a_file_that_is_not_toml_says_where(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[municipality]\ncode = "401005\n', encoding="utf-8")
    assert "file: " in failing(path, "--language", "en")


@given(st.text(alphabet="0123456789AB０", max_size=7))
def test_a_code_is_refused_exactly_when_it_is_not_a_valid_code(code):
    assert (code_problem(code) is None) == code_is_valid(code)


# ---- the superuser's page --------------------------------------------------------------


def form_data(contractor: Contractor, **changes) -> dict:
    data = {
        "code": "439002",
        "name": "みほん町",
        "department": "総務課",
        "sender_title": "みほん町長",
        "sender_name": "山田　一郎",
        "payment_bank": "みほん銀行 本店",
        "payment_type": "普通",
        "payment_number": "1234567",
        "payment_holder": "みほん町会計管理者",
        "desks": "みほん町役場 住民課窓口\nみほん町 支所窓口",
        "contractors": [contractor.pk],
        "new_contractors": "株式会社ミホン",
        "users-TOTAL_FORMS": "4",
        "users-INITIAL_FORMS": "0",
        "users-0-username": "yamada-kacho",
        "users-0-last_name": "山田",
        "users-0-role": "manager",
        "users-2-username": "kawai",
        "users-2-last_name": "川井",
        "users-2-role": "contractor",
        "users-2-contractor": "株式会社ミホン",
    }
    return data | changes


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="root"))
    return client


def test_superuser_sets_up_a_municipality_on_the_page_and_sees_passwords_once(superuser_client):
    agec = ContractorFactory(name="株式会社エイジェック")
    page = superuser_client.get(reverse("municipality_setup")).content.decode()
    assert "地方公共団体コード" in page and "株式会社エイジェック" in page
    response = superuser_client.post(reverse("municipality_setup"), form_data(agec))
    assert response.status_code == 302
    town = Municipality.objects.get(code="439002")
    assert set(town.contractors.values_list("name", flat=True)) == {
        "株式会社エイジェック",
        "株式会社ミホン",
    }
    done = superuser_client.get(response.url)
    html = done.content.decode()
    assert (
        "みほん町（439002）を登録しました" in html
        and "＊＊＊＊4567" in html
        and "1234567" not in html
    )
    assert "no-store" in done["Cache-Control"]
    shown = re.findall(r"<code>([^<]+)</code>", html)
    assert len(shown) == 2
    # Shown once: the next visit goes back to the form, and the session holds no password.
    assert superuser_client.get(response.url).status_code == 302
    assert not any(p in str(dict(superuser_client.session)) for p in shown)


def test_page_lists_every_mistake_linked_to_its_field_and_creates_nothing(superuser_client):
    agec = ContractorFactory(name="株式会社エイジェック")
    before = row_counts()
    response = superuser_client.post(
        reverse("municipality_setup"),
        form_data(
            agec,
            code="072011",
            sender_title="",
            **{"users-2-contractor": "無名会社", "users-0-role": "staff"},
        ),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<a href="#id_code">' in html and "072011 の検査数字が合いません" in html
    assert '<a href="#id_sender_title">署名者の職名：署名者の職名を入力してください' in html
    assert '<a href="#first-users">最初の利用者：課長・係長（管理職）を一人以上登録' in html
    assert '<a href="#id_users-2-contractor">' in html
    assert 'id="id_code_error"' in html and 'id="id_users-2-contractor_error"' in html
    assert row_counts() == before


def test_page_says_a_role_that_does_not_fit_its_organisation(superuser_client):
    agec = ContractorFactory(name="株式会社エイジェック")
    response = superuser_client.post(
        reverse("municipality_setup"),
        form_data(agec, **{"users-0-contractor": "株式会社エイジェック"}),
    )
    html = response.content.decode()
    assert "市担当・課長・監査は自治体に所属します" in html
    assert "membership_role_matches_organisation" not in html
    assert not Municipality.objects.filter(code="439002").exists()


def test_superuser_finds_the_page_in_navigation_and_admin_index(superuser_client):
    url = reverse("municipality_setup")
    assert f'href="{url}"' in superuser_client.get(reverse("admin:index")).content.decode()
    assert f'href="{url}"' in superuser_client.get(url).content.decode()


def test_staff_does_not_see_the_setup_link(client, world):
    client.force_login(world.manager)
    assert reverse("municipality_setup") not in client.get(reverse("cases:list")).content.decode()


# ---- the admin says the rule, not the constraint -------------------------------------------


def test_admin_says_which_organisation_a_role_needs(superuser_client, world):
    user = UserFactory(username="newcomer")
    response = superuser_client.post(
        "/admin/cases/membership/add/",
        {"user": user.pk, "role": "contractor", "municipality": world.city.pk},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "委託事業者職員は委託事業者に所属します" in html
    assert "membership_role_matches_organisation" not in html
    assert not Membership.objects.filter(user=user).exists()


def test_admin_never_shows_the_designated_account_number(superuser_client, setup_file):
    run(setup_file)
    town = Municipality.objects.get(code="439002")
    html = superuser_client.get(f"/admin/cases/municipality/{town.pk}/change/").content.decode()
    assert "1234567" not in html and "＊＊＊＊4567" in html


@pytest.mark.parametrize(
    ("code", "said"),
    [("ABC", "地方公共団体コード"), ("072011", "地方公共団体コード")],
)
def test_admin_refuses_a_code_without_its_check_digit(superuser_client, code, said):
    response = superuser_client.post(
        "/admin/cases/municipality/add/",
        {
            "code": code,
            "name": "福島市",
            "numbered_kinds": "apology",
            "payment_account_type": "普通",
            "repayment_days": "30",
            "offices-TOTAL_FORMS": "0",
            "offices-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["code"])
    assert said in errors and "401005" in errors
    assert not Municipality.objects.exists()


def test_account_numbers_stored_in_clear_before_are_encrypted_by_the_migration(setup_file):
    run(setup_file)
    town = Municipality.objects.get(code="439002")
    with connection.cursor() as cursor:  # as stored before migration 0016
        cursor.execute(
            "UPDATE cases_municipality SET payment_account_number = %s WHERE id = %s",
            ["7654321", town.pk],
        )
    migration = importlib.import_module("cases.migrations.0016_municipality_setup")
    for _twice in range(2):  # run again: nothing is encrypted twice
        migration.encrypt_designated_accounts(None, SimpleNamespace(connection=connection))
    assert Municipality.objects.get(pk=town.pk).payment_account_number == "7654321"


def test_admin_keeps_the_account_number_when_left_empty_and_masks_it_in_the_trail(
    superuser_client, setup_file
):
    run(setup_file)
    town = Municipality.objects.get(code="439002")
    url = f"/admin/cases/municipality/{town.pk}/change/"
    form = superuser_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "seal_upload"}
    data |= {"payment_account_number": "", "offices-TOTAL_FORMS": "0", "offices-INITIAL_FORMS": "0"}
    data["contact_phone"] = "0967-11-1111"
    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Municipality.objects.get(pk=town.pk).payment_account_number == "1234567"
    data["payment_account_number"] = "7654321"
    assert superuser_client.post(url, data).status_code == 302
    assert Municipality.objects.get(pk=town.pk).payment_account_number == "7654321"
    trail = str(AuditEntry.objects.filter(action__startswith="tadasu.admin").values_list("data"))
    assert "7654321" not in trail and "1234567" not in trail and "＊＊＊＊4321" in trail


def test_a_code_taken_at_the_same_moment_is_a_message_not_an_error(setup_file, monkeypatch):
    # The check passes (as for two set-ups checked at once); the unique code then decides.
    monkeypatch.setattr(setup, "setup_problems", lambda spec, seal=None: [])
    spec = tomllib.loads(setup_file.read_text(encoding="utf-8"))
    MunicipalityFactory(code="439002", name="先に登録された町")
    with pytest.raises(setup.SetupError) as raised:
        setup.municipality_set_up(spec=spec, by=None, via="command")
    assert raised.value.problems[0].path == ("municipality", "code")
    assert not User.objects.filter(username="yamada-kacho").exists()


def test_a_json_file_sets_up_the_same(setup_file, tmp_path):
    path = tmp_path / "town.json"
    path.write_text(
        json.dumps(tomllib.loads(setup_file.read_text(encoding="utf-8")), ensure_ascii=False),
        encoding="utf-8",
    )
    run(path)
    assert Municipality.objects.get(code="439002").offices.count() == 2
