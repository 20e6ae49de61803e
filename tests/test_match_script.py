"""Urdu, Pashto and Dari as feeds deliver them: presentation forms, digits glued to words,
compounds written solid or apart, zero-width non-joiners, Pashto letters; spans into the
original text; and story clustering folding words exactly as matching does."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from monitor.cluster.gazetteer import places_named
from monitor.cluster.text import PLACE_SCRIPTS, tokens
from monitor.commands.rules import rules
from monitor.match import Matcher
from monitor.match.textnorm import normalize, normalize_fast, offset_map

ROOT = Path(__file__).resolve().parent.parent

RULES = """
[lexicons]
violence = ["دہشت گرد*", "خودکش", "حملہ", "شہید", "پولیس", "کمپاؤنڈ"]
kp = ["خیبر پختونخوا", "بنوں", "ڈیورنڈ لائن", "ٹانک"]
weapons = ["جنگ\u200cافزار"]
[[rules]]
id = "violence"
topic = "ttp_militancy"
match = "@violence"
[[rules]]
id = "kp"
topic = "ttp_militancy"
match = "@kp"
[[rules]]
id = "weapons"
topic = "ttp_militancy"
match = "@weapons"
[[rules]]
id = "kp-police"
topic = "ttp_militancy"
match = "بنوں NEAR/2 پولیس"
"""
MATCHER = Matcher.from_text(RULES)


@dataclass(frozen=True)
class It:
    title: str
    summary: str = ""
    source: str = "Urdu press"
    language: str = "ur"


def fired(title: str) -> set[str]:
    return {m.rule_id for m in MATCHER.match(It(title))}


def span_texts(title: str, rule_id: str) -> list[str]:
    (m,) = [m for m in MATCHER.match(It(title)) if m.rule_id == rule_id]
    for s in m.spans:
        assert title[s.start : s.end] == s.text
    reference = {r.rule_id: r.spans for r in MATCHER.match_reference(It(title))}
    assert m.spans == reference[rule_id]
    return [s.text for s in m.spans]


def test_compound_written_solid_matches_the_term_written_apart() -> None:
    # The lexicon writes "دہشت گرد"; the press writes it solid as often as not.
    assert "violence" in fired("بنوں میں دہشتگردوں کا پولیس پر حملہ")
    assert span_texts("دہشتگردوں کی فائرنگ", "violence") == ["دہشتگردوں"]
    assert "kp" in fired("خیبرپختونخوا حکومت کا فیصلہ")
    assert "kp" in fired("خیبر پختونخوا حکومت کا فیصلہ")


def test_zwnj_is_a_joiner_or_a_space() -> None:
    # The term carries a ZWNJ: written with it, with a space or solid, it is one word.
    for text in ("جنگ\u200cافزار", "جنگ افزار", "جنگافزار"):
        assert "weapons" in fired(f"کشف {text} در مرز"), text
    # In item text a ZWNJ never splits a word into two that no longer match.
    assert "kp" in fired("بن\u200cوں")


def test_digits_glued_to_words_are_split_in_every_digit_script() -> None:
    for digit in ("4", "۴", "٤"):
        assert fired(f"{digit}پولیس") == {"violence"}, digit
        assert fired(f"اہلکار{digit}شہید") == {"violence"}, digit
    # The digit is a word of its own: "بنوں" and "پولیس" are two words apart.
    assert "kp-police" in fired("بنوں 4پولیس")
    assert "kp-police" not in fired("بنوں 4 اور پولیس")
    assert normalize_fast("خودکش دہماکہ 4پولیس") == " خودکش دہماکہ 4 پولیس "
    assert normalize_fast("۱۲شہید") == " 12 شہید "
    # Latin letters keep their digits: "T20" and "F-16" are names, not glued words.
    assert normalize_fast("T20 F16 26th") == " t20 f16 26th "


def test_presentation_forms_read_as_their_letters() -> None:
    # ﺅ (a presentation form of ؤ) in a scraped headline; the lexicon has the letter.
    assert "violence" in fired("کمپاﺅنڈ")
    for cp in [*range(0xFB50, 0xFE00), *range(0xFE70, 0xFF00)]:
        ch = chr(cp)
        if unicodedata.category(ch) != "Cn":
            nfkc = unicodedata.normalize("NFKC", ch)
            assert normalize_fast(ch) == normalize_fast(nfkc), hex(cp)


def test_pashto_letters_fold_with_their_urdu_forms() -> None:
    assert "kp" in fired("ډیورنډ لاین")  # Pashto ډ, Urdu ڈ in the lexicon
    assert "kp" in fired("ټانک")  # Pashto ټ
    for pashto, urdu in (("ټ", "ٹ"), ("ډ", "ڈ"), ("ړ", "ڑ"), ("ڼ", "ن"), ("ګ", "گ")):
        assert normalize_fast(pashto) == normalize_fast(urdu)
    # Letters that are Pashto's own stay themselves, whole words with digits split off.
    assert normalize_fast("3ښځې") == " 3 ښځی "
    assert normalize_fast("ږ ځ څ") == " ږ ځ څ "


def test_spans_map_back_through_presentation_forms_and_glued_digits() -> None:
    title = "خیبر تحصیل کمپاﺅنڈ میں خودکش دہماکہ 4پولیس اہلکار شہید"
    texts = span_texts(title, "violence")
    assert texts == ["کمپاﺅنڈ", "خودکش", "پولیس", "شہید"]
    # Every word of the normalised text maps to the same span on the lazy and full maps.
    full, lazy = normalize(title), offset_map(title)
    for m in re.finditer(r"[^ ]+", full.text):
        assert lazy.span(*m.span()) == full.span(*m.span())
    assert [title[slice(*full.span(*m.span()))] for m in re.finditer(r"[^ ]+", full.text)] == [
        "خیبر",
        "تحصیل",
        "کمپاﺅنڈ",
        "میں",
        "خودکش",
        "دہماکہ",
        "4",
        "پولیس",
        "اہلکار",
        "شہید",
    ]


def test_rules_test_command_highlights_the_original_urdu_words(tmp_path: Path) -> None:
    title = "خیبر تحصیل کمپاﺅنڈ میں خودکش دہماکہ 4پولیس اہلکار شہید"
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    result = CliRunner(env={"FORCE_COLOR": "1", "TERM": "xterm"}).invoke(
        rules, ["test", title, "--rules", str(path)]
    )
    assert result.exit_code == 0, result.output
    # Highlighted runs (bold reverse) are exactly the original words, in place.
    line = next(ln for ln in result.output.splitlines() if ln.startswith("  title:"))
    marked = re.findall(r"\x1b\[1;7m(.*?)\x1b\[0m", line)
    assert marked == ["کمپاﺅنڈ", "خودکش", "پولیس", "شہید"]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
    assert plain == f"  title: {title}"


def test_clustering_folds_words_as_matching_does() -> None:
    # The same headline as outlets write it: Arabic or Persian kaf and yeh, a ZWNJ, ھ or ہ,
    # presentation forms, digits glued or not, Pashto letters typed on an Urdu keyboard.
    spellings = [
        (  # Urdu
            "پشاور پولیس لائنز مسجد میں خودکش دھماکہ، 4 پولیس اہلکار شہید",
            "پشاور پولیس لائنز مسجد ميں خودکش دہماکہ، 4پولیس اہلكار شہيد",
        ),
        (  # Pashto
            "په تورخم کې د پاکستاني ځواکونو ډزې، ۳ کسان ټپیان",
            "په تورخم کی د پاكستانی ځواکونو ڈزی، ۳کسان ٹپیان",
        ),
        (  # Dari
            "درگیری‌های مرزی میان نیروهای طالبان و پاکستان در ولایت ننگرهار",
            "درگيریهای مرزی میان نیروهاي طالبان و پاكستان در ولايت ننگرهار",
        ),
    ]
    for a, b in spellings:
        assert tokens(a) == tokens(b), (a, b)
        assert normalize_fast(a) == normalize_fast(b)
        # Every clustering token is a word of the matching normalisation of the text, or
        # the gazetteer's name for a place in it.
        words = set(normalize_fast(a).split()) | {t for _, t in PLACE_SCRIPTS}
        assert set(tokens(a)) <= words, set(tokens(a)) - words


def test_the_gazetteer_reads_places_in_every_script() -> None:
    same_place = [
        ("Suicide blast at Peshawar police lines", "پشاور پولیس لائنز میں خودکش دھماکہ"),
        ("Firing at Torkham crossing", "په تورخم کې د پاکستاني ځواکونو ډزې"),
        ("Operation in North Waziristan", "شمالی وزیرستان میں آپریشن"),
        ("Clashes near Spin Boldak", "درگیری در اسپین بولدک"),
    ]
    for english, other in same_place:
        assert places_named(english) == places_named(other) != frozenset(), other
    # A word that only looks like a place in Urdu ("دیر", late) names none.
    assert places_named("اجلاس دیر سے شروع ہوا") == frozenset()
