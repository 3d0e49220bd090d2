"""Translations of the web pages: one JSON catalogue per language, a tiny gettext-like lookup.

`translator("en")("board.title")` → the English text; `{name}` placeholders are filled from
keyword arguments. A key missing from a catalogue falls back to zh-CN, then to the key itself
(and is logged once), so a missing translation never breaks a page. SMS texts live in
alerts/texts.py and are not part of these catalogues.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
_DIR = Path(__file__).resolve().parent

Translate = Callable[..., str]


@cache
def catalogue(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((_DIR / f"{language}.json").read_text(encoding="utf-8"))
    return data


def pick_language(requested: str | None) -> str:
    """A supported language for `requested` ("en", "en-US", "zh", "zh-CN"...), default zh-CN."""
    if not requested:
        return DEFAULT_LANGUAGE
    value = requested.strip().lower()
    if value.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


_missing_logged: set[tuple[str, str]] = set()


def translator(language: str) -> Translate:
    primary = catalogue(language)
    fallback = catalogue(DEFAULT_LANGUAGE)

    def translate(key: str, **values: Any) -> str:
        text = primary.get(key) or fallback.get(key)
        if text is None:
            if (language, key) not in _missing_logged:
                _missing_logged.add((language, key))
                log.warning("i18n missing key=%s language=%s", key, language)
            return key
        return text.format(**values) if values else text

    return translate
