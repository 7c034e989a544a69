"""Who is speaking: the municipality's kind (都道府県・市・町・村・特別区) and its words.

Every document and every stored 経過 line that names the issuer takes its words from here,
so that a town says 本町 and 町長, a prefecture 本県 and 知事, and only a city says 市
(DOCUMENTS.md, "Who is speaking"). The kind is suggested from the 地方公共団体コード
(JIS X 0402), whose check digit is verified, and can be set by hand.
"""

from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class MunicipalityKind(models.TextChoices):
    PREFECTURE = "prefecture", _("prefecture (都道府県)")
    CITY = "city", _("city (市)")
    TOWN = "town", _("town (町)")
    VILLAGE = "village", _("village (村)")
    SPECIAL_WARD = "special_ward", _("special ward (特別区)")


WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(first_five: str) -> int:
    """The last digit of 11 − (Σ dᵢ·wᵢ mod 11): 40100 → 5 (北九州市), 07201 → 0 (福島市)."""
    total = sum(int(d) * w for d, w in zip(first_five, WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def code_is_valid(code: str) -> bool:
    return (
        len(code) == 6
        and code.isascii()
        and code.isdigit()
        and 1 <= int(code[:2]) <= 47
        and check_digit(code[:5]) == int(code[5])
    )


def validate_code(code: str) -> None:
    """Model-field validator: six digits whose last is the check digit of the first five."""
    if not code_is_valid(code or ""):
        raise ValidationError(
            _(
                "Enter the six-digit local government code (地方公共団体コード) with its check "
                "digit, e.g. 401005."
            ),
            code="invalid_code",
        )


def suggest_kind(code: str, name: str = "") -> str:
    """The kind the code says: `000` the prefecture, `1xx` a designated city or (in Tokyo)
    a special ward, `2xx` a city, `3xx` and above a town or village (told apart by the
    name). A name ending in 市, 町, 村 or 区 wins where the digits cannot decide."""
    name = (name or "").strip()
    body = code[2:5] if len(code) >= 5 and code[2:5].isdigit() else ""
    if body == "000":
        return MunicipalityKind.PREFECTURE
    if body.startswith("1"):
        if code[:2] == "13" or name.endswith("区"):
            return MunicipalityKind.SPECIAL_WARD
        return MunicipalityKind.CITY
    if body.startswith("2"):
        return MunicipalityKind.CITY
    if name.endswith("村"):
        return MunicipalityKind.VILLAGE
    if name.endswith("町"):
        return MunicipalityKind.TOWN
    if name.endswith("市"):
        return MunicipalityKind.CITY
    if name.endswith("区"):
        return MunicipalityKind.SPECIAL_WARD
    if name.endswith(("都", "道", "府", "県")):
        return MunicipalityKind.PREFECTURE
    return MunicipalityKind.TOWN if body else MunicipalityKind.CITY


@dataclass(frozen=True)
class IssuerWords:
    """The words a document uses for its issuer. Frozen into every document's data."""

    kind: str
    name: str  # 北九州市
    unit: str  # 市 / 町 / 村 / 区 / 県 (都・道・府): 「町記入欄」, 「（町）」, 「町支払」
    self_ref: str  # 本市 / 本町 / 本村 / 本区 / 本県 (本都・本道・本府)
    head_title: str  # 市長 / 町長 / 村長 / 区長 / 知事
    head: str  # 北九州市長 / 東京都知事
    office: str  # 市役所 / 町役場 / 村役場 / 区役所 / 県庁 (都庁・道庁・府庁)
    staff: str  # 市職員 / 町職員 / 県職員
    direct: str  # 市の直営 / 町の直営: a desk run by the issuer's own staff

    def as_dict(self) -> dict:
        return asdict(self)


def words_for(kind: str, name: str) -> IssuerWords:
    if kind == MunicipalityKind.PREFECTURE:
        unit = name[-1] if name.endswith(("都", "道", "府", "県")) else "県"
        head_title, office = "知事", f"{unit}庁"
    elif kind == MunicipalityKind.TOWN:
        unit, head_title, office = "町", "町長", "町役場"
    elif kind == MunicipalityKind.VILLAGE:
        unit, head_title, office = "村", "村長", "村役場"
    elif kind == MunicipalityKind.SPECIAL_WARD:
        unit, head_title, office = "区", "区長", "区役所"
    else:
        kind, unit, head_title, office = MunicipalityKind.CITY, "市", "市長", "市役所"
    # 東京都 + 知事 = 東京都知事; 北九州市 + 市長 = 北九州市長 (the unit is said once).
    head = (
        f"{name}{head_title}"
        if kind == MunicipalityKind.PREFECTURE
        else f"{name.removesuffix(unit)}{head_title}"
    )
    return IssuerWords(
        kind=str(kind),
        name=name,
        unit=unit,
        self_ref=f"本{unit}",
        head_title=head_title,
        head=head,
        office=office,
        staff=f"{unit}職員",
        direct=f"{unit}の直営",
    )


def words(municipality) -> IssuerWords:
    """The words of a Municipality (its kind as set, or as its code suggests)."""
    kind = municipality.kind or suggest_kind(municipality.code, municipality.name)
    return words_for(kind, municipality.name)


def frozen_words(municipality_data: dict) -> IssuerWords:
    """The words of a document's frozen municipality; documents frozen before the kind
    existed were all worded as a 市, and re-render as they were issued."""
    stored = municipality_data.get("words")
    if stored:
        return IssuerWords(**stored)
    return words_for(MunicipalityKind.CITY, municipality_data.get("name", ""))
