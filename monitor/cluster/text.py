"""Text normalisation for story fingerprints: what counts as "the same words".

Owns the tokeniser and its word lists: case and diacritics folding, outlet boilerplate
(photo captions and credits, datelines), stop words, the beat's synonyms ("neutralised" and
"killed", "FO" and "Foreign Office"), a light suffix stemmer, number words, and a small
gazetteer of frontier places. Works on any script: Urdu, Pashto and Arabic text is folded
by matching's own folding (one definition of "the same word") and split on word boundaries
like English (no stemming, a few stop words).
"""

from __future__ import annotations

import re

from monitor.match.textnorm import fold_marks

__all__ = [
    "PLACE_SCRIPTS",
    "extract_numbers",
    "fold",
    "strip_boilerplate",
    "tokens",
]

_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    return text.split()


# Folded as words are (Urdu "ہے" is "ہی" once yeh barree is unified), so they compare equal.
STOP_WORDS: frozenset[str] = frozenset(
    _words(
        fold_marks("""
    a an the and or but nor of to in on at by for from with without into onto over under
    as is are was were be been being has have had do does did will would shall should can
    could may might must it its this that these those there here their them they he she his
    her him we our us you your i me my who whom whose which what when where why how
    not no yes than then so if also just only very more most much many some any each all
    both few other such own same too s t up down out off about again further once amid
    along across near against between after before within via
    says say said saying tell tells told according per while during since until till
    latest live update updates watch video photos read report reports reported
    today yesterday tonight week day days hours hour year years new
    monday tuesday wednesday thursday friday saturday sunday
    کے کی کا کو میں سے نے پر اور ہے ہیں تھا تھی تھے بھی یہ وہ ایک لیے گیا گئی گئے کہ
    في من على إلى عن مع هذا هذه التي الذي و او أو ان إن
    """)
    )
)

# Multi-word names and spellings folded to one token before splitting, so "Foreign Office"
# and "FO", or "D I Khan" and "Dera Ismail Khan", count as the same word.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"tehree?k[\s-]+[ei][\s-]+taliban[\s-]+pakistan", "ttp"),
    (r"pakistani taliban", "ttp"),
    (r"fitna[\s-]+al[\s-]+khawarij", "khawarij"),
    (r"fitna[\s-]+al[\s-]+hindustan", "fitnahindustan"),
    (r"foreign office|foreign ministry|ministry of foreign affairs", "fo"),
    (r"inter[\s-]+services public relations", "ispr"),
    (r"khyber[\s-]+pakhtunkhwa", "kp"),
    (r"dera ismail khan|d\.?\s?i\.?\s?khan", "dikhan"),
    (r"north waziristan", "northwaziristan"),
    (r"south waziristan", "southwaziristan"),
    (r"lakki marwat", "lakkimarwat"),
    (r"spin boldak", "spinboldak"),
    (r"angoor adda", "angooradda"),
    (r"landi kotal", "landikotal"),
    (r"mir ali", "mirali"),
    (r"prime minister", "pm"),
    (r"director[\s-]+general", "dg"),
    (r"chief of army staff|army chief|field marshal", "coas"),
    (r"security forces", "forces"),
    (r"state[\s-]+run media|state media", "statemedia"),
    (r"india[n]?[\s-]+(?:backed|sponsored|proxy|proxies)", "india"),
    (r"pak[\s-]+afghan", "pakistan afghanistan"),
    (r"taliban regime|taliban government|afghan taliban", "taliban"),
    (r"intelligence[\s-]+based operations?|ibos?\b", "ibo"),
)
# The gazetteer's places as Urdu, Pashto and Dari write them, read as the English token,
# so a report in any of those languages names the same place as an English one. Folded
# like any text (Pashto ټ/ډ/ړ are Urdu's, ھ is ہ), so one spelling per language is enough.
# Names that are also common Urdu words are left out (دیر "late", کرم "grace"): a place
# read where there is none would set two reports of one event apart.
PLACE_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("شمالی وزیرستان", "northwaziristan"),
    ("شمالي وزیرستان", "northwaziristan"),
    ("جنوبی وزیرستان", "southwaziristan"),
    ("جنوبي وزیرستان", "southwaziristan"),
    ("وزیرستان", "waziristan"),
    ("وزیر ستان", "waziristan"),
    ("خیبر پختونخوا", "kp"),
    ("خیبرپختونخوا", "kp"),
    ("خیبر پښتونخوا", "kp"),
    ("لکی مروت", "lakkimarwat"),
    ("ڈیرہ اسماعیل خان", "dikhan"),
    ("ڈی آئی خان", "dikhan"),
    ("سپین بولدک", "spinboldak"),
    ("اسپین بولدک", "spinboldak"),
    ("انگور اڈہ", "angooradda"),
    ("لنڈی کوتل", "landikotal"),
    ("میر علی", "mirali"),
    ("میرعلی", "mirali"),
    ("میران شاہ", "miranshah"),
    ("میرانشاہ", "miranshah"),
    ("غلام خان", "ghulam khan"),
    ("طورخم", "torkham"),
    ("تورخم", "torkham"),
    ("چمن", "chaman"),
    ("پشاور", "peshawar"),
    ("پیشاور", "peshawar"),
    ("کوئٹہ", "quetta"),
    ("بنوں", "bannu"),
    ("باجوڑ", "bajaur"),
    ("خیبر", "khyber"),
    ("اورکزئی", "orakzai"),
    ("مہمند", "mohmand"),
    ("ٹانک", "tank"),
    ("چترال", "chitral"),
    ("سوات", "swat"),
    ("تیراہ", "tirah"),
    ("وانا", "wana"),
    ("ژوب", "zhob"),
    ("کوہاٹ", "kohat"),
    ("ہنگو", "hangu"),
    ("کرک", "karak"),
    ("ملاکنڈ", "malakand"),
    ("پاراچنار", "parachinar"),
    ("کابل", "kabul"),
    ("قندھار", "kandahar"),
    ("کندھار", "kandahar"),
    ("ننگرہار", "nangarhar"),
    ("ننګرهار", "nangarhar"),
    ("خوست", "khost"),
    ("پکتیکا", "paktika"),
    ("کنڑ", "kunar"),
    ("کونړ", "kunar"),
    ("ہلمند", "helmand"),
    ("جلال آباد", "jalalabad"),
    ("بلوچستان", "balochistan"),
    ("اسلام آباد", "islamabad"),
    ("راولپنڈی", "rawalpindi"),
    ("کراچی", "karachi"),
    ("لاہور", "lahore"),
    ("دوحہ", "doha"),
    ("استنبول", "istanbul"),
)
_PHRASES += tuple((re.escape(fold_marks(name)), token) for name, token in PLACE_SCRIPTS)
# One alternation, one pass: group i matched ⇒ replacement i.
_PHRASE_RE = re.compile("|".join(rf"\b({p})\b" for p, _ in _PHRASES))
_PHRASE_OUT = [r for _, r in _PHRASES]

_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        _words(
            "killed kills killing neutralised neutralized neutralise neutralize neutralises "
            "neutralizes neutralising eliminated eliminate eliminates dead die died dies death "
            "deaths"
        ),
        "kill",
    ),
    **dict.fromkeys(_words("martyred martyr martyrs martyrdom"), "martyr"),
    **dict.fromkeys(_words("injured injuries wounded hurt"), "injur"),
    **dict.fromkeys(_words("pak pakistani pakistanis pakistan's"), "pakistan"),
    **dict.fromkeys(_words("afghan afghans afghanistan's"), "afghanistan"),
    **dict.fromkeys(_words("govt govt's government's"), "government"),
    **dict.fromkeys(_words("spox spokesman spokesperson spokeswoman"), "spokesperson"),
    **dict.fromkeys(_words("cops cop policemen policeman"), "police"),
    **dict.fromkeys(_words("talks dialogue negotiations negotiation"), "talks"),
    **dict.fromkeys(_words("truce ceasefire"), "ceasefire"),
    **dict.fromkeys(
        _words("terrorists terrorist militants militant khariji kharijis"), "terrorist"
    ),
    **dict.fromkeys(_words("blast explosion explodes exploded bombing"), "blast"),
    **dict.fromkeys(_words("uavs uav drones drone"), "drone"),
}

_NUMBER_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_NUMBER_WORDS.update(
    {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70}
)
_NUMBER_WORDS.update({"eighty": 80, "ninety": 90, "hundred": 100, "dozens": 24, "dozen": 12})
_COMPOUND_NUMBER = re.compile(
    r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[\s-]+"
    r"(one|two|three|four|five|six|seven|eight|nine)\b"
)

# Photo captions and credits that outlets put ahead of the story text (Geo, The News):
# "Troops patrol the fence on Aug 3, 2021. — AFP/File<story text>". The caption names
# dates and places of another day, so it is cut before it can look like a fact.
_CAPTION = re.compile(r"^.{0,400}?\s?[—–]\s?", re.DOTALL)
_CREDIT = re.compile(
    r"(?:(?:AFP|Reuters|AP|APP|INP|PID|PPI|ISPR|NNI|Online|File|Facebook|YouTube|X|"
    r"Geo News|PTV ?News|Radio Pakistan|Unsplash|President’s Secretariat|PM Office|"
    r"screengrab|Screengrab|via|Instagram|Twitter)[/ ]*|@\w+\s*)+"
)
_DATELINE = re.compile(r"^[A-Z][A-Z .'-]{2,30}:\s")
_BULLETS = re.compile(r"[•●▪]")


def strip_boilerplate(summary: str) -> str:
    """The story text of a feed summary, without a leading photo caption, credit, dateline."""
    text = summary.strip()
    caption = _CAPTION.match(text)
    if caption is not None:
        credit = _CREDIT.match(text, caption.end())
        if credit is not None and credit.end() > caption.end():
            text = text[credit.end() :]
    # Outlets glue bullet points together ("...ISPRMilitary spox says"): split them again.
    text = re.sub(r"(?<=[a-z.:;!?\"”])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    text = _DATELINE.sub("", text)
    text = _BULLETS.sub(" ", text)
    text = re.sub(r"<[^>]*>?|\.\.\.|…", " ", text)  # stray markup and truncation marks
    return text


def fold(text: str) -> str:
    """Words folded as matching folds them, typographic quotes unified, punctuation kept.

    Matching's definition of the same word (`monitor.match.textnorm`): case, diacritics,
    presentation forms, Arabic/Persian/Urdu/Pashto letter variants, tatweel and zero-width
    joiners (so a ZWNJ does not split a Persian word), digits glued to Urdu words.
    """
    return fold_marks(text).replace("’", "'").replace("‘", "'")


def _number_text(text: str) -> str:
    text = _COMPOUND_NUMBER.sub(lambda m: str(_NUMBER_WORDS[m[1]] + _NUMBER_WORDS[m[2]]), text)
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # "4,600" → "4600"


def _stem(word: str) -> str:
    if not word.isascii() or word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # "stopp" → "stop"
    return word


def tokens(text: str) -> list[str]:
    """Content tokens of `text`, in order: folded, phrase- and synonym-mapped, stemmed."""
    folded = _number_text(fold(text))
    folded = _PHRASE_RE.sub(lambda m: _PHRASE_OUT[(m.lastindex or 1) - 1], folded)
    out: list[str] = []
    for raw in _WORD.findall(folded.replace("'", "")):
        word = raw.strip("_")
        if not word or word in STOP_WORDS:
            continue
        if word in _NUMBER_WORDS:
            word = str(_NUMBER_WORDS[word])
        word = _SYNONYMS.get(word, word)
        word = _stem(word)
        # isdecimal, not isdigit: "፩" and "²" are digits to isdigit, and int() refuses them.
        if word.isdecimal():
            word = word.lstrip("0") or "0"
        elif len(word) == 1 and word.isascii():
            continue  # stray initials
        out.append(word)
    return out


def extract_numbers(toks: list[str]) -> frozenset[int]:
    """Whole numbers among tokens, excluding years (they date the text, not the event)."""
    found: set[int] = set()
    for tok in toks:
        if tok.isdecimal() and len(tok) <= 6:
            value = int(tok)
            if not 1990 <= value <= 2100:
                found.add(value)
    return frozenset(found)
