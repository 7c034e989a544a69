"""One font set-up for every document.

An installed Japanese TrueType font is embedded (subset) so the PDF looks the same
everywhere; without one, reportlab's built-in CID fonts are used (not embedded; the
reader supplies the glyphs). Either way the text stays extractable.
"""

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

# Looked for in this order; TADASU_PDF_MINCHO / TADASU_PDF_GOTHIC override.
MINCHO_CANDIDATES = [
    "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-mincho.ttf",
    "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf",
]
GOTHIC_CANDIDATES = [
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
]


@dataclass(frozen=True)
class FontSet:
    mincho: str  # body text (明朝)
    gothic: str  # headings (ゴシック)
    embedded: bool


def _find(env: str, candidates: list[str]) -> Path | None:
    chosen = os.environ.get(env)
    if chosen is not None:
        # An explicitly empty value forces the built-in fonts (used by the tests).
        return Path(chosen) if chosen and Path(chosen).is_file() else None
    return next((Path(c) for c in candidates if Path(c).is_file()), None)


@cache
def fonts() -> FontSet:
    """Register the fonts once per process (a TTF costs ~90 ms to load)."""
    mincho = _find("TADASU_PDF_MINCHO", MINCHO_CANDIDATES)
    gothic = _find("TADASU_PDF_GOTHIC", GOTHIC_CANDIDATES) or mincho
    if mincho is not None:
        pdfmetrics.registerFont(TTFont("TadasuMincho", str(mincho)))
        pdfmetrics.registerFont(TTFont("TadasuGothic", str(gothic)))
        return FontSet("TadasuMincho", "TadasuGothic", embedded=True)
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiMin-W3"))
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    return FontSet("HeiseiMin-W3", "HeiseiKakuGo-W5", embedded=False)
