"""Masks on screen: an address keeps its prefecture and municipality whole, nothing after;
every mask is drawn with the full-width ＊."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.crypto import mask, mask_address

# Real municipalities, the hard ones first: a 市, 町 or 村 inside the name, a district (郡),
# a designated city (its ward is not kept), a Tokyo special ward.
MUNICIPALITIES = [
    ("三重県", "四日市市"),
    ("広島県", "廿日市市"),
    ("石川県", "野々市市"),
    ("新潟県", "十日町市"),
    ("長野県", "大町市"),
    ("東京都", "東村山市"),
    ("東京都", "武蔵村山市"),
    ("東京都", "羽村市"),
    ("長崎県", "大村市"),
    ("福島県", "田村市"),
    ("群馬県", "佐波郡玉村町"),
    ("富山県", "中新川郡上市町"),
    ("北海道", "余市郡余市町"),
    ("千葉県", "市川市"),
    ("千葉県", "市原市"),
    ("東京都", "町田市"),
    ("新潟県", "村上市"),
    ("福島県", "郡山市"),
    ("奈良県", "大和郡山市"),
    ("岐阜県", "郡上市"),
    ("福岡県", "北九州市"),
    ("福岡県", "遠賀郡岡垣町"),
    ("北海道", "札幌市"),
    ("京都府", "京都市"),
    ("東京都", "千代田区"),
    ("沖縄県", "国頭郡東村"),
    ("鹿児島県", "いちき串木野市"),
    ("茨城県", "つくばみらい市"),
    ("山形県", "北村山郡大石田町"),
    ("奈良県", "高市郡明日香村"),
]


@given(
    place=st.sampled_from(MUNICIPALITIES),
    with_prefecture=st.booleans(),
    postcode=st.sampled_from(["", "〒802-0001 ", "〒8020001", "802-0001 "]),
    # The characters that end or split a place name are the ones that could mislead it.
    rest=st.text(alphabet="市区町村郡都道府県丁目番地号中央本一二三1-（）〒 ", max_size=30)
    | st.text(max_size=30),
)
def test_an_address_keeps_its_municipality_whole_and_nothing_after(
    place, with_prefecture, postcode, rest
):
    prefecture, municipality = place
    head = (prefecture if with_prefecture else "") + municipality
    masked = mask_address(postcode + head + rest)
    assert masked == head + "＊＊＊＊"


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("福岡県北九州市八幡西区黒崎3-15-3", "福岡県北九州市＊＊＊＊"),
        ("北九州市八幡西区（架空）3-3", "北九州市＊＊＊＊"),
        ("〒811-0000 遠賀郡みどり町中央（架空）1-1", "遠賀郡みどり町＊＊＊＊"),
        ("東京都", "東京都＊＊＊＊"),
        ("1-2-3 Sunny Heights", "＊＊＊＊"),
        ("", ""),
        (None, ""),
    ],
)
def test_masked_addresses_read_as_a_city_hall_writes_them(address, shown):
    assert mask_address(address) == shown


def test_numbers_are_masked_with_the_full_width_asterisk():
    assert mask("0930000003") == "＊＊＊＊0003"
    assert "*" not in mask("0930000003")
