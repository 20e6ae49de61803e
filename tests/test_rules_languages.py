"""The default rules cover each concept in English, Urdu, Pashto and Dari, through lexicons
that include one another (`ttp = [..., "@ttp_ur", "@ttp_ps", "@ttp_fa"]`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.errors import RulesError
from monitor.match import Matcher
from monitor.match.rulebook import parse_rules

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = Matcher.from_file(ROOT / "config" / "rules.toml")


@dataclass(frozen=True)
class It:
    title: str
    summary: str = ""
    source: str = ""
    language: str = ""


def fired(title: str, language: str = "") -> set[str]:
    return {m.rule_id for m in DEFAULT.match(It(title, language=language))}


def test_a_lexicon_includes_another_lexicons_terms() -> None:
    book = parse_rules(
        """
[lexicons]
ttp = ["TTP", "@ttp_ur"]
ttp_ur = ["کالعدم تحریک طالبان", "@ttp_names"]
ttp_names = ["خوارج"]
[[rules]]
id = "ttp"
topic = "ttp_militancy"
match = "@ttp"
"""
    )
    assert [t.source for t in book.lexicons["ttp"]] == ["TTP", "کالعدم تحریک طالبان", "خوارج"]
    matcher = Matcher(book)
    assert [m.rule_id for m in matcher.match(It("خوارج کا حملہ"))] == ["ttp"]


@pytest.mark.parametrize(
    ("lexicons", "problem"),
    [
        ('a = ["x", "@b"]', "'@b': unknown lexicon"),
        ('a = ["x", "@b"]\nb = ["y", "@a"]', "lexicons include each other: @a -> @b -> @a"),
    ],
)
def test_bad_includes_are_errors(lexicons: str, problem: str) -> None:
    text = f'[lexicons]\n{lexicons}\n[[rules]]\nid = "r"\ntopic = "t"\nmatch = "@a"\n'
    with pytest.raises(RulesError) as info:
        parse_rules(text)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("title", "language", "rule"),
    [
        # The TTP under each of its names.
        ("جنوبی وزیرستان میں کالعدم تحریک طالبان کا کمانڈر گرفتار", "ur", "ttp"),
        ("خوارجی دہشتگردوں کے ٹھکانے تباہ", "ur", "ttp"),
        ("د پاکستان طالبانو تحریک نوې اعلامیه خپره کړه", "ps", "ttp"),
        ("تی تی پی مسئولیت این حمله را بر عهده گرفت", "fa", "ttp"),
        # Militant violence in Khyber Pakhtunkhwa, solid or apart.
        ("میرانشاہ میں سکیورٹی فورسز کا آپریشن", "ur", "kp-militancy"),
        ("خیبرپختونخوا کے ضلع لکی مروت میں پولیس چوکی پر حملہ", "ur", "kp-militancy"),
        ("په شمالي وزیرستان کې پر پوځیانو برید", "ps", "kp-militancy"),
        ("حمله انتحاری در پیشاور", "fa", "suicide-attack-pakistan"),
        # The crossings and the border.
        ("طورخم بارڈر ہر قسم کی آمد و رفت کیلئے بند", "ur", "border-crossing-closure-fence"),
        ("پاک افغان بارڈر پر گولہ باری", "ur", "border-clash"),
        # Afghan officials on Pakistan, however far apart in the sentence.
        (
            "پاکستان کی سلامتی کو اپنا مفاد سمجھتے ہیں افغان نائب وزیر اعظم",
            "ur",
            "afghan-officials-on-pakistan",
        ),
        # Refugees: Urdu news is Pakistan's press.
        ("افغان مہاجرین کو ملک بدر کرنے کا فیصلہ", "ur", "afghan-refugees-return"),
    ],
)
def test_each_concept_fires_in_each_language(title: str, language: str, rule: str) -> None:
    assert rule in fired(title, language), title


@pytest.mark.parametrize(
    ("off_beat", "on_beat"),
    [
        # PTI politics, Karachi crime, Balochistan without an Afghan link, India, cricket:
        # not the beat, though the sentence beside each, on the beat, shares its words.
        ("پی ٹی آئی کا پشاور میں جلسہ، عمران خان کا خطاب", "پشاور میں جلسے پر خودکش حملہ"),
        (
            "کراچی میں ڈکیتی کے دوران فائرنگ، شہری جاں بحق",
            "لکی مروت میں پولیس چوکی پر فائرنگ، اہلکار شہید",
        ),
        (
            "بلوچستان کے ضلع کیچ میں دہشتگردوں کا حملہ، 2 اہلکار شہید",
            "چمن میں افغانستان سے آنے والے عسکریت پسندوں کا حملہ",
        ),
        (
            "بھارت کی لائن آف کنٹرول پر بلا اشتعال فائرنگ",
            "افغان فورسز کی طورخم بارڈر پر بلا اشتعال گولہ باری",
        ),
        (
            "پاکستان اور افغانستان کے درمیان کرکٹ میچ آج کھیلا جائے گا",
            "پاکستان اور افغانستان کے درمیان بات چیت آج ہو گی",
        ),
    ],
)
def test_urdu_near_misses_stay_out_while_the_beat_fires(off_beat: str, on_beat: str) -> None:
    assert fired(off_beat, language="ur") == set(), off_beat
    assert fired(on_beat, language="ur") != set(), on_beat
