import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.mynumber import check_digit, contains_individual_number, is_individual_number


def test_the_public_test_value_passes_and_its_neighbour_fails():
    assert is_individual_number("123456789018")
    assert not is_individual_number("123456789019")


@pytest.mark.parametrize(
    "text",
    [
        "123456789018",
        "１２３４５６７８９０１８",
        "1234 5678 9018",
        "1234-5678-9018",
        "番号は１２３４－５６７８－９０１８です",
        "1234　5678　9018",
        "A:123456789018.",
    ],
)
def test_individual_numbers_are_found_in_any_writing(text):
    assert contains_individual_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "123456789019",
        "093-582-2144",
        "09012345678",
        "1234567890180",
        "口座番号 1234567",
        "",
        None,
        "2023-02-22",
    ],
)
def test_other_numbers_are_left_alone(text):
    assert not contains_individual_number(text)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_exactly_one_last_digit_makes_an_individual_number(first_eleven):
    valid = [d for d in "0123456789" if is_individual_number(first_eleven + d)]
    assert valid == [str(check_digit(first_eleven))]


@pytest.mark.django_db
def test_a_form_refuses_an_individual_number_and_keeps_the_input(client, world, case):
    from django_scopes import scopes_disabled

    from cases.models import Party

    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/parties/new/",
        {
            "label": "A氏",
            "identified": "on",
            "name": "山田 太郎",
            "address": "北九州市小倉北区 番号１２３４－５６７８－９０１８",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_address_error"' in body and "個人番号" in body
    assert 'value="山田 太郎"' in body  # the rest of the input is kept
    with scopes_disabled():
        assert not Party.objects.exists()


@pytest.mark.django_db
def test_a_phone_number_of_twelve_digits_is_not_refused(client, world, case):
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/parties/new/",
        {
            "label": "A氏",
            "identified": "on",
            "name": "山田 太郎",
            "phone": "123456789019",
        },
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_an_import_file_with_an_individual_number_imports_nothing(world):
    from remedies.interchange import InterchangeError, import_cases

    data = {
        "format": "tadasu-cases",
        "version": 1,
        "cases": [{"summary": "本人の番号は123456789018"}],
    }
    with pytest.raises(InterchangeError) as error:
        import_cases(data)
    assert "individual number" in str(error.value)
