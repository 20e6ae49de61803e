"""An item's language from its feed's language and its text's script, and how it is shown.

This module owns one decision and its consequences: an item is in its feed's configured
language unless its text is clearly in another script (Arabic script in an English feed,
Latin script in an Urdu, Pashto or Persian one), and the direction and font stack the digest
renders a language with. Pure: text and language tags in, language tags and strings out.
"""

from __future__ import annotations

import unicodedata

# Languages written in Arabic script (primary subtags; "prs" is Dari, "pbt"/"pbu" Pashto).
ARABIC_SCRIPT = frozenset({"ar", "fa", "prs", "ps", "pbt", "pbu", "ur", "sd", "ug", "ckb", "ks"})
# "Clearly another script": at least this many letters, and this share of them.
_MIN_LETTERS = 8
_SHARE = 0.75
# Letters one language of the region writes and the others do not.
_PASHTO = frozenset("ښږځڅډړټګېۍڼ")
_URDU = frozenset("ٹڈڑںےھۓ")
_ARABIC = frozenset("ةيكى")
_PERSIAN = frozenset("پچژگیک")

# Fonts per script: Nastaliq for Urdu, as its readers expect; Naskh for Persian, Pashto and
# Arabic. Every stack ends in fonts that mail clients have on Windows, macOS and Android.
_NASTALIQ = (
    "'Noto Nastaliq Urdu','Jameel Noori Nastaleeq','Urdu Typesetting','Noto Naskh Arabic',"
    "Tahoma,Arial,sans-serif"
)
_NASKH = "'Noto Naskh Arabic','Segoe UI',Tahoma,'Geeza Pro',Arial,sans-serif"


def primary(language: str) -> str:
    """The primary subtag of a language tag, lower case ("ur-PK" -> "ur")."""
    return language.replace("_", "-").split("-", 1)[0].strip().lower()


def script_of(text: str) -> str:
    """ "arabic" or "latin" when that script has most of the text's letters, else ""."""
    arabic = latin = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufeff":
            arabic += 1
        elif ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
            latin += 1
    total = arabic + latin
    if total < _MIN_LETTERS:
        return ""
    if arabic >= _SHARE * total:
        return "arabic"
    if latin >= _SHARE * total:
        return "latin"
    return ""


def guess_arabic_script_language(text: str) -> str:
    """Urdu, Pashto, Persian or Arabic, from the letters only one of them uses."""
    counts = {
        "ps": sum(ch in _PASHTO for ch in text),
        "ur": sum(ch in _URDU for ch in text),
        "ar": sum(ch in _ARABIC for ch in text),
    }
    best = max(counts, key=lambda k: counts[k])
    if counts[best]:
        return best
    return "fa" if any(ch in _PERSIAN for ch in text) else "ar"


def item_language(configured: str, title: str, summary: str = "") -> str:
    """The feed's language, unless the item's text is clearly in another script.

    An English feed's item in Arabic script is Urdu, Pashto, Persian or Arabic by its
    letters; an Urdu, Pashto or Persian feed's item in Latin script is English. A feed in
    Arabic script keeps its own language for Arabic-script items (Urdu letters in a Pashto
    feed are a keyboard's, not another language).
    """
    text = f"{title} {summary}"
    script = script_of(text)
    in_arabic = primary(configured) in ARABIC_SCRIPT
    if script == "arabic" and not in_arabic:
        return guess_arabic_script_language(text)
    if script == "latin" and in_arabic:
        return "en"
    return configured


def direction(language: str) -> str:
    """ "rtl" for a language written in Arabic script, else "ltr"."""
    return "rtl" if primary(language) in ARABIC_SCRIPT else "ltr"


def font_stack(language: str, default: str) -> str:
    """The CSS font-family for text in `language`; `default` for left-to-right languages."""
    code = primary(language)
    if code == "ur":
        return _NASTALIQ
    if code in ARABIC_SCRIPT:
        return _NASKH
    return default
