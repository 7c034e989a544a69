import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.mynumber import (
    check_digit,
    contains_individual_number,
    is_individual_number,
    mask_individual_numbers,
)


def test_the_public_test_value_passes_and_its_neighbour_fails():
    assert is_individual_number("123456789018")
    assert not is_individual_number("123456789019")


# The check digit is 11 minus the remainder of the weighted sum by 11, and 0 when that
# remainder is 0 or 1 (省令第85号 第5条). One example of each edge, worked by hand: the
# weighted sums of 10000000008, 10000000003, 10000000009 and 10000000002 are 22, 12, 24
# and 10 (1×6 for the first digit, the last one ×2), remainders 0, 1, 2 and 10.
@pytest.mark.parametrize(
    ("number", "neighbour"),
    [
        ("100000000080", "100000000081"),  # remainder 0: check digit 0
        ("100000000030", "100000000031"),  # remainder 1: check digit 0, not 1 or 10
        ("100000000099", "100000000090"),  # remainder 2: check digit 9
        ("100000000021", "100000000020"),  # remainder 10: check digit 1
    ],
)
def test_the_check_digit_at_the_edges_of_the_rule(number, neighbour):
    assert is_individual_number(number) and contains_individual_number(f"番号{number}")
    assert not is_individual_number(neighbour)


def test_masking_keeps_the_text_around_the_number_as_it_was():
    masked = mask_individual_numbers("ログイン名 1234ー5678ー9018 です")
    assert masked == "ログイン名 ＊＊＊＊＊＊＊＊＊＊＊＊ です"
    twelve = "＊" * 12
    assert mask_individual_numbers("1234-5678-9018と123456789018") == f"{twelve}と{twelve}"


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


# --- Any writing of an individual number (issue 17) -----------------------------------------
# Separators a clerk or a pasted text may put between the digits: spaces of every width,
# new lines and tabs, dots, slashes, hyphens and dashes, and invisible format characters
# (zero-width space/joiners, word joiner, soft hyphen, direction marks, BOM).
SEPARATORS = [
    " ", "\u3000", "\u00a0", "\n", "\r\n", "\t", ".", "．", "・", "/", "／",
    "-", "－", "‐", "–", "—", "−", "ー",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f", "\u061c",
    "\u202a", "\u202c", "\u2066", "\u2069",
]  # fmt: skip
VALID = st.text(alphabet="0123456789", min_size=11, max_size=11).map(
    lambda first: first + str(check_digit(first))
)


def _split(number: str, gaps: list[str]) -> str:
    return "".join(d + g for d, g in zip(number, [*gaps, ""], strict=False))


@given(
    number=VALID,
    gaps=st.lists(st.lists(st.sampled_from(SEPARATORS), max_size=3).map("".join), min_size=11,
                  max_size=11),
    full_width=st.booleans(),
    before=st.sampled_from(["", "番号は", "No. ", "(", "住所 北九州市 "]),
    after=st.sampled_from(["", "です", ")", " 以上", "。"]),
)  # fmt: skip
def test_any_valid_individual_number_split_by_any_separators_is_refused(
    number, gaps, full_width, before, after
):
    if full_width:
        number = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    text = before + _split(number, gaps) + after
    assert contains_individual_number(text)
    masked = mask_individual_numbers(text)
    assert not contains_individual_number(masked) and "＊" * 12 in masked


@pytest.mark.parametrize(
    "text",
    [
        "1234 - 5678 - 9018",
        "1234\n5678\n9018",
        "1234\u200b5678\u200b9018",
        "1234\u00ad5678\u00ad9018",
        "1234\u200e5678\u200f9018",
        "1234.5678.9018",
        "1234/5678/9018",
        "番号：１２３４ー５６７８ー９０１８",
    ],
)
def test_the_writings_that_got_past_the_screen_are_refused(text):
    assert contains_individual_number(text)


ORDINARY = st.one_of(
    # Dates, with and without a time (ISO, slashes, dots, Japanese).
    st.dates().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: f"{d.year}/{d.month}/{d.day}"),
    st.dates().map(lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}"),
    st.dates().map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
    st.builds(
        lambda d, h, m: f"{d.isoformat()} {h:02d}:{m:02d}",
        st.dates(),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
    # Mobile numbers (11 digits) and landlines (10 digits), with or without hyphens.
    st.from_regex(r"0[789]0-\d{4}-\d{4}", fullmatch=True),
    st.from_regex(r"0[789]0\d{8}", fullmatch=True),
    st.from_regex(r"0\d{2}-\d{3}-\d{4}", fullmatch=True),
    # Amounts, in yen with thousands separators, and case references.
    st.integers(0, 10**12).map(lambda n: f"{n:,}円"),
    st.integers(0, 10**12).map(lambda n: f"￥{n:,}"),
    st.builds(
        lambda code, year, n: f"{code}-{year}-{n:03d}",
        st.from_regex(r"\d{6}", fullmatch=True),
        st.integers(2000, 2099),
        st.integers(1, 999),
    ),
)


@given(
    parts=st.lists(ORDINARY, min_size=1, max_size=4),
    joiner=st.sampled_from(["、", "：", " 円 ", "／電話 "]),
)
def test_ordinary_text_with_dates_phones_amounts_and_references_is_not_refused(parts, joiner):
    assert not contains_individual_number(joiner.join(parts))


def test_twelve_digits_must_form_the_run_exactly():
    assert not contains_individual_number("1234 5678 9018 5")  # thirteen digits
    assert not contains_individual_number("090-1234-5678")  # eleven
    assert not contains_individual_number("1234 5678 9019")  # check digit fails
    assert contains_individual_number("電話 090-1234-5678、番号 1234 5678 9018")


# --- Every way text comes in -----------------------------------------------------------------
SPLIT = "1234\u200b5678 - 9018"  # the public test value, split as it got past the screen


@pytest.mark.django_db
def test_a_form_refuses_a_split_individual_number_next_to_its_field(client, world, case):
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/timeline/new/",
        {"occurred_on": "2023-02-01", "actor": "北九州市", "text": f"本人の番号 {SPLIT}"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_text_error"' in body and "個人番号" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"address": "北九州市小倉北区 1234 - 5678 - 9018"},
        {"identification_note": "番号1234\n5678\n9018を確認"},
        {"phone": "1234.5678.9018"},
    ],
)
def test_the_party_services_refuse_it_whoever_calls_them(world, case, fields):
    from django_scopes import scopes_disabled

    from cases import services
    from cases.errors import CaseError
    from cases.models import Party

    with scopes_disabled(), pytest.raises(CaseError) as error:
        services.party_add(case=case, by=world.staff, label="A氏", name="山田 太郎", **fields)
    assert error.value.field == next(iter(fields))
    with scopes_disabled():
        assert not Party.objects.exists()


@pytest.mark.django_db
def test_the_timeline_and_case_services_refuse_it(world, case):

    from django_scopes import scopes_disabled

    from cases import services
    from cases.errors import CaseError

    with scopes_disabled():
        with pytest.raises(CaseError) as error:
            services.timeline_add(
                case=case, by=world.staff, occurred_on=case.discovered_on, actor="市", text=SPLIT
            )
        assert error.value.field == "text"
        with pytest.raises(CaseError) as error:
            services.case_update(case=case, by=world.staff, summary=f"番号 {SPLIT}")
        assert error.value.field == "summary"
        case.refresh_from_db()
        assert SPLIT not in case.summary and not case.timeline.filter(text=SPLIT).exists()


@pytest.mark.django_db
def test_a_remedy_service_refuses_it(world, case):

    from django_scopes import scopes_disabled

    from cases.errors import CaseError
    from cases.models import Agency
    from remedies import services as remedy_services
    from remedies.models import AgencyContact, Channel

    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    with scopes_disabled(), pytest.raises(CaseError) as error:
        remedy_services.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=case.discovered_on,
            channel=Channel.PHONE,
            request=f"照会: {SPLIT}",
        )
    assert error.value.field == "request"
    with scopes_disabled():
        assert not AgencyContact.objects.exists()


@pytest.mark.django_db
def test_a_reception_sheet_with_a_split_individual_number_is_refused(world):
    from receptions import services as reception_services
    from receptions.errors import SheetRefused

    from ..receptions.conftest import MAPPING
    from ..receptions.sheets import reception_csv

    rows = [
        (world.office.name, "2", "2023-02-07 10:15", "10:25", "鈴木 次郎", "完了"),
        (world.office.name, "2", "2023-02-07 10:30", "10:55", "佐藤 花子", "完了", "済", SPLIT),
    ]
    with pytest.raises(SheetRefused) as refused:
        reception_services.upload_store(data=reception_csv(rows), file_name="s.csv", by=world.staff)
    assert "3" in refused.value.message and "1234" not in refused.value.message
    from cases.scoping import tenant_scope

    with tenant_scope(world.staff), pytest.raises(SheetRefused):
        reception_services.sheet_import(
            data=reception_csv(rows), file_name="s", mapping=MAPPING, by=world.staff,
            contractor=None,
        )  # fmt: skip


@pytest.mark.django_db
def test_an_import_file_with_a_split_individual_number_imports_nothing(world):
    import io
    import json

    from remedies.interchange import InterchangeError, import_case_file, import_cases

    for text in ("本人の番号は1234\n5678\n9018", SPLIT, "1234\u00ad5678\u200f9018"):
        data = {"format": "tadasu-cases", "version": 1, "cases": [{"summary": text}]}
        with pytest.raises(InterchangeError) as error:
            import_cases(data)
        assert "individual number" in str(error.value), text
        # As a file, the new line and the invisible characters written as JSON escapes.
        file = io.BytesIO(json.dumps(data).encode())
        with pytest.raises(InterchangeError) as error:
            import_case_file(file)
        assert "individual number" in str(error.value), text


# --- A log-in name that is an individual number ----------------------------------------------
@pytest.mark.django_db
def test_a_log_in_name_that_is_an_individual_number_is_kept_masked(client, world):
    from axes.models import AccessAttempt

    from cases.models import AuditEntry

    for _ in range(5):
        response = client.post(
            "/accounts/login/",
            {"username": "123456789018", "password": "wrong"},
            REMOTE_ADDR="192.0.2.7",
        )
    assert response.status_code == 429  # still locked out after five attempts
    failed = AuditEntry.objects.filter(action="tadasu.auth.login_failed")
    assert failed.count() == 5
    assert {e.data["username"] for e in failed} == {"＊" * 12}
    attempts = list(AccessAttempt.objects.values_list("username", flat=True))
    assert attempts == ["＊" * 12]
    # An ordinary name is kept as typed.
    client.post(
        "/accounts/login/", {"username": "staff", "password": "wrong"}, REMOTE_ADDR="192.0.2.7"
    )
    assert AccessAttempt.objects.filter(username="staff").exists()


# Characters a number may be written in or hidden by: ASCII, full-width and circled digits,
# separators, format characters (dropped before reading), and ordinary text around them.
_PIECES = st.sampled_from(
    [
        *"0123456789０１２３４５６７８９①⑫㉑¹٣ -./・ー－\n\u200b\u200d\u00ad\u2066\ufeff",
        *["市", "Ａ", "a", "申請", "093-582-", "令和5年"],
    ]
)


@given(st.lists(_PIECES, max_size=40).map("".join))
def test_the_quick_answer_for_text_with_few_digits_is_the_full_reading(text):
    from cases import mynumber

    # The full reading, as it was before the quick answer: normalised, format characters
    # dropped, then the runs read.
    full = bool(mynumber._number_spans(mynumber._normalise(text)))
    assert contains_individual_number(text) == full


@given(
    st.lists(
        st.sampled_from([*"0123456789 -./\n", "a", "Ab", "2023-03-16", "093-582-", "\x00"]),
        max_size=40,
    ).map("".join)
)
def test_the_quick_answer_for_ascii_text_is_the_full_reading(text):
    from cases import mynumber

    assert text.isascii()
    full = bool(mynumber._number_spans(mynumber._normalise(text)))
    assert contains_individual_number(text) == full


# Texts read together (a case file's case, cases/mynumber.contains_individual_number_in_any):
# digits that run up to the end of one text and on from the start of the next, combining
# marks at a text's start (NFKC composes them with what precedes), format characters.
_EDGES = st.sampled_from(
    [
        *"0123456789０１２３４５６７８９① -.\n\u200b\u00ad\ufeff\u3099\u0301\x00",
        *["か", "e", "1234-5678-", "9018", "12345678901", "8", "ｶ"],
    ]
)


@given(st.lists(st.lists(_EDGES, max_size=12).map("".join), max_size=6))
def test_texts_read_together_give_the_answer_of_each_read_alone(texts):
    from cases.mynumber import contains_individual_number_in_any

    alone = any(contains_individual_number(text) for text in texts)
    assert contains_individual_number_in_any(texts) == alone


def test_a_number_is_not_made_of_the_end_of_one_text_and_the_start_of_the_next():
    from cases.mynumber import contains_individual_number_in_any

    assert not contains_individual_number_in_any(["電話 1234-5678", "9018 番"])
    assert not contains_individual_number_in_any(["12345678901", "8"])
    assert contains_individual_number_in_any(["12345678901", "番号 123456789018"])


@given(st.lists(_PIECES, max_size=40).map("".join))
def test_runs_shorter_than_twelve_characters_are_skipped_without_changing_the_answer(text):
    from cases import mynumber

    normalised = mynumber._normalise(text)
    every_run = [
        match.span()
        for match in mynumber._RUN.finditer(normalised)
        if mynumber.is_individual_number(mynumber._digits(match.group()))
    ]
    assert mynumber._number_spans(normalised) == every_run


def test_the_format_characters_dropped_are_exactly_those_of_category_cf():
    import sys
    import unicodedata

    from cases import mynumber

    text = "".join(chr(code) for code in range(0x80, sys.maxunicode + 1)) + "\u200b\ufeffa"
    expected = "".join(c for c in text if unicodedata.category(c) != "Cf")
    assert mynumber._without_format_characters(text) == expected


def test_the_characters_that_may_give_a_digit_are_exactly_those_whose_nfkc_holds_one():
    import sys
    import unicodedata

    from cases import mynumber

    for code in range(sys.maxunicode + 1):
        char = chr(code)
        gives = any(c.isdecimal() for c in unicodedata.normalize("NFKC", char))
        assert mynumber._may_hold_a_digit(f"市{char}名") == gives, hex(code)
        # No digit is made by composing (nor taken into a composition): a text's digits
        # once normalised are those its characters give one by one.
        decomposed = unicodedata.normalize("NFD", char)
        if char.isdecimal() or len(decomposed) > 1:
            assert decomposed == char or not decomposed[0].isdecimal(), hex(code)
