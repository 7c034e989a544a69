"""The shared form pattern (cases/forms_base.py): messages that name the field, no choice made
for the user, dates typed year first or in 和暦. The summary of a form sent empty is checked
for every form in tests/test_forms_pattern.py."""

import re
import string
from datetime import date, timedelta

import pytest
from django import forms
from django.utils import translation
from django.utils.translation import gettext
from hypothesis import given
from hypothesis import strategies as st

from cases.forms import CaseForm, LinkCorrectionForm, MisregistrationForm, PartyForm
from cases.forms_base import DateInput, TadasuForm
from cases.models import CaseKind, Party
from cases.setup_forms import MunicipalitySetupForm
from cases.wareki import ERAS, parse_date, wareki
from overview.forms import DeadlinesForm
from remedies.forms import AgreementForm, PaymentForm, VisitForm

from ..factories import CaseFactory

FIRST_DAY = ERAS[-1][0]  # 明治元年1月25日


@pytest.fixture(autouse=True)
def japanese():
    with translation.override("ja"):
        yield


def _errors(form: forms.Form) -> dict[str, list[str]]:
    form.is_valid()
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


# --- messages that name the field -----------------------------------------------------------
def test_an_empty_form_names_each_field_and_says_what_to_do():
    errors = _errors(AgreementForm({}, parties=Party.objects.none()))
    assert errors == {
        "payer": ["負担者を選択してください。"],
        "amount": ["金額（円）を入力してください。"],
        "form": ["補償の方法を選択してください。"],
        "agreed_on": ["合意日を入力してください。"],
    }


@pytest.mark.django_db
def test_the_case_form_asks_for_the_discovery_date_by_its_name(world):
    errors = _errors(CaseForm({}, membership=world.staff.membership))
    assert errors["discovered_on"] == ["判明日を入力してください。"]
    assert errors["kind"] == ["誤登録の種別を選択してください。"]
    assert errors["office"] == ["区役所・窓口を選択してください。"]
    assert "このフィールドは必須です。" not in str(errors)


def test_too_long_text_says_the_limit_and_the_length():
    errors = _errors(PartyForm({"label": "あ" * 21}))
    assert errors["label"] == ["呼称は20文字以内で入力してください（現在21文字）。"]


def test_a_number_that_is_no_number_is_asked_again_in_half_width_digits():
    errors = _errors(DeadlinesForm({"inquiry": "abc"}, current={}))
    assert "調査を半角数字で入力してください。" in errors["inquiry"]


def test_a_choice_not_offered_is_answered_in_the_fields_words():
    errors = _errors(AgreementForm({"payer": "nobody"}, parties=Party.objects.none()))
    assert errors["payer"] == ["負担者は一覧から選択してください。"]


def test_a_date_that_is_no_date_says_how_to_write_it():
    errors = _errors(AgreementForm({"agreed_on": "05/01/2024"}, parties=Party.objects.none()))
    assert errors["agreed_on"] == [
        "合意日を「2024-05-01」や「令和6年5月1日」のように、年・月・日の順で入力してください。"
    ]


def test_the_messages_are_english_for_an_english_user():
    with translation.override("en"):
        errors = _errors(AgreementForm({}, parties=Party.objects.none()))
    assert errors["agreed_on"] == ["Enter “Agreed on”."]
    assert errors["payer"] == ["Choose “Who pays”."]


def test_a_forms_own_wording_stays():
    errors = _errors(LinkCorrectionForm({}))
    assert errors["corrected_on"] == [
        str(LinkCorrectionForm.base_fields["corrected_on"].error_messages["required"])
    ]
    errors = _errors(MunicipalitySetupForm({}))
    assert errors["desks"] == [str(MunicipalitySetupForm.REQUIRED["desks"])]
    # The amount's own message (it accepts 5,000円) is kept, not replaced by "digits".
    errors = _errors(AgreementForm({"amount": "five"}, parties=Party.objects.none()))
    assert errors["amount"] == [gettext("Enter the amount in whole yen, e.g. 5,000.")]


def test_a_label_with_a_percent_sign_does_not_break_its_message():
    class Odd(TadasuForm):
        rate = forms.CharField(label="率（%）", max_length=2)
        pick = forms.ChoiceField(label="100%(s)", choices=[("a", "A"), ("b", "B")])

    errors = _errors(Odd({"rate": "123", "pick": "z"}))
    assert errors["rate"] == ["率（%）は2文字以内で入力してください（現在3文字）。"]
    assert errors["pick"] == ["100%(s)は一覧から選択してください。"]


# --- no choice made for the user -------------------------------------------------------------
def _selected(bound) -> str:
    html = str(bound)
    chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', html)
    return chosen[0] if chosen else ""


def _first_option(bound) -> tuple[str, str]:
    value, label = re.search(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', str(bound)).groups()
    return value, label


@pytest.mark.parametrize(
    ("form", "names"),
    [
        (lambda: AgreementForm(parties=Party.objects.none()), ["payer", "form"]),
        (lambda: PaymentForm(parties=Party.objects.none()), ["side", "method", "party"]),
        (lambda: MisregistrationForm(parties=Party.objects.none()), ["data_kind", "source"]),
        (
            lambda: VisitForm(parties=Party.objects.none()),
            ["hand_over_side", "hand_over_method", "collected_by", "collection_method", "purpose"],
        ),
    ],
)
def test_money_and_facts_are_never_chosen_for_the_clerk(form, names):
    instance = form()
    for name in names:
        assert _selected(instance[name]) == "", name
        assert _first_option(instance[name]) == ("", "選択してください"), name


@pytest.mark.django_db
def test_the_report_form_asks_for_the_kind_of_error(world):
    form = CaseForm(membership=world.staff.membership)
    assert _first_option(form["kind"]) == ("", "選択してください")
    assert _first_option(form["office"]) == ("", "選択してください")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "chosen"),
    [
        (CaseKind.CASHLESS_LINK, "cashless_account"),
        (CaseKind.ACCOUNT_MISREGISTRATION, "bank_account"),
        (CaseKind.OTHER, ""),
    ],
)
def test_the_link_form_chooses_the_data_only_where_the_case_says_it(kind, chosen):
    case = CaseFactory(kind=kind)
    form = MisregistrationForm(parties=Party.objects.none(), case_kind=case.kind)
    assert _selected(form["data_kind"]) == chosen


def test_a_contractor_books_its_own_side_a_choice_of_one():
    form = VisitForm(parties=Party.objects.none(), contractor_only=True)
    assert [v for v, _ in form.fields["hand_over_side"].choices] == ["contractor"]


def test_an_amount_without_who_paid_or_how_is_asked_for_them():
    errors = _errors(
        VisitForm({"handed_over": "5000", "expected_head": "0"}, parties=Party.objects.none())
    )
    assert errors["hand_over_side"] == ["負担者を選択してください。"]
    assert errors["hand_over_method"] == ["お渡しの方法を選択してください。"]


@pytest.mark.django_db
def test_filters_offer_all_instead_of_dashes(client, world):
    client.force_login(world.staff)
    body = client.get("/cases/").content.decode()
    assert "---------" not in body
    assert '<option value="" selected>すべて</option>' in body


# --- dates written year first ----------------------------------------------------------------
days = st.dates(min_value=FIRST_DAY, max_value=date(9999, 12, 31))


@given(days)
def test_any_date_reads_back_in_every_way_it_may_be_written(day):
    full_width = str.maketrans(string.digits, "０１２３４５６７８９")
    written = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02}.{day.day:02}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}年{day.month}月{day.day}日".translate(full_width),
        f"{day:%Y%m%d}",
        f" {day.isoformat()}　",
        wareki(day),
        wareki(day, gannen=False),
    ]
    for text in written:
        assert parse_date(text) == day, text


@pytest.mark.parametrize(("start", "name"), ERAS)
def test_an_era_date_outside_its_era_is_no_date(start, name):
    before = start - timedelta(days=1)
    era_year = before.year - start.year + 1  # 1, or 0 when the era began on 1 January
    assert parse_date(f"{name}{era_year}年{before.month}月{before.day}日") is None
    assert parse_date(f"{name}元年{start.month}月{start.day}日") == start


@given(st.one_of(st.text(max_size=60), st.binary(max_size=20).map(repr)))
def test_junk_never_raises_and_never_becomes_a_date_by_accident(text):
    class One(TadasuForm):
        on = forms.DateField(label="日付", widget=DateInput())

    parse_date(text)  # never raises
    form = One({"on": text})
    if form.is_valid():
        assert form.cleaned_data["on"] == parse_date(text)
    else:
        assert form.errors["on"]


def test_month_first_is_never_guessed():
    assert parse_date("05/01/2024") is None
    assert parse_date("平成31年5月1日") is None  # that day is 令和元年5月1日
    assert parse_date("令和元年5月1日") == date(2019, 5, 1)
    assert parse_date("R6.5.1") == date(2024, 5, 1)


def test_the_date_box_reads_the_date_back_in_wareki():
    class One(TadasuForm):
        on = forms.DateField(label="日付", widget=DateInput())

    form = One({"on": "令和6年5月1日"})
    assert form.is_valid()
    html = str(form["on"])
    assert 'value="2024-05-01"' in html and 'type="text"' in html
    assert '<span class="date-wareki" id="id_on_wareki">令和6年5月1日</span>' in html
    assert "id_on_wareki" in re.search(r'aria-describedby="([^"]*)"', html).group(1)


def test_a_visit_is_not_recorded_as_an_apology_unless_the_box_is_ticked():
    from remedies.forms import VisitForm

    form = VisitForm(parties=Party.objects.none())
    assert "checked" not in str(form["apologised"])
