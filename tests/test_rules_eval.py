"""Quality gate: the default rules on the dev labels reach P >= 0.90 and R >= 0.95."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.match import Matcher
from monitor.match.evaluate import evaluate, read_labels

ROOT = Path(__file__).resolve().parent.parent


def test_default_rules_meet_targets_on_dev_labels() -> None:
    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    path = ROOT / "tests" / "data" / "labels" / "relevance-dev.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        items = read_labels(fh)
    report = evaluate(matcher, items)
    assert report.overall is not None
    assert len(items) == 779
    assert report.overall.precision >= 0.90, report.overall
    assert report.overall.recall >= 0.95, report.overall


def test_seed_article_fires_the_core_topics() -> None:
    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    from monitor.match.evaluate import LabelledItem

    seed = LabelledItem(
        "seed",
        "Dawn",
        "Pakistan-Taliban relations",
        "On Dec 11, a border clash between Afghan and Pakistani border forces in Chaman claimed"
        " the lives of at least eight Pakistani citizens. Mohammed Sadiq, Pakistan's special"
        " representative for Afghanistan, in the meeting of Moscow Format. The TTP has"
        " continued to carry out brazen attacks.",
    )
    topics = {m.topic for m in matcher.match(seed)}
    assert {"border", "diplomacy", "ttp_militancy"} <= topics


# Floors per labelled file, pooled figures aside. Targets (relevance issue): relevance
# P >= 0.90 and R >= 0.95, alerts P >= 0.85 and R >= 0.90 on every file. Where a file is
# not there yet its floor is today's figure, so a change can only hold or raise it.
FLOORS = {
    "relevance-dev.csv": {"relevant": (0.94, 0.98), "alerts": (0.90, 0.85)},
    "relevance-dev2.csv": {"relevant": (0.94, 0.96), "alerts": (0.90, 0.90)},
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_relevance_and_alerts_hold_on_every_labelled_file(name: str) -> None:
    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    with (ROOT / "tests" / "data" / "labels" / name).open(encoding="utf-8", newline="") as fh:
        report = evaluate(matcher, read_labels(fh, name))
    for what, scores in (("relevant", report.overall), ("alerts", report.alert_scores)):
        assert scores is not None, what
        precision, recall = FLOORS[name][what]
        assert scores.precision >= precision, (what, scores)
        assert scores.recall >= recall, (what, scores)


@pytest.mark.parametrize(
    ("title", "alert"),
    [
        # the event itself, of each kind the alert definition names
        ("Three soldiers martyred as militants storm check post in South Waziristan", True),
        ("Roadside bomb kills two policemen in Dera Ismail Khan", True),
        ("Pakistani and Afghan forces exchange fire at Angoor Adda crossing", True),
        ("Torkham border crossing closed after overnight firing", True),
        ("Suicide bomber targets security convoy in Bannu", True),
        ("Ceasefire between Pakistan and Afghanistan breaks down in Kurram", True),
        ("Pakistan-Afghanistan talks in Doha collapse without agreement", True),
        # talk about events, routine operations and reactions
        ("Security forces kill 12 terrorists in North Waziristan operation: ISPR", False),
        ("Defence minister warns Kabul that clashes could resume", False),
        ("Funeral prayers offered for policemen martyred in Lakki Marwat", False),
        ("Pakistan and Afghanistan to resume talks in Istanbul next week", False),
        ("Two dead as gas cylinder explodes in Peshawar market", False),
        ("Traders demand reopening of Chaman border crossing", False),
    ],
)
def test_alerts_are_events_not_topics(title: str, alert: bool) -> None:
    from monitor.match.evaluate import LabelledItem

    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    matches = matcher.match(LabelledItem("x", "Dawn", title, ""))
    assert any(m.severity == "alert" for m in matches) is alert, [m.rule_id for m in matches]


def _eval(name: str) -> tuple[int, float, float]:
    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    path = ROOT / "tests" / "data" / "labels" / name
    with path.open(encoding="utf-8", newline="") as fh:
        items = read_labels(fh)
    report = evaluate(matcher, items)
    assert report.overall is not None
    return len(items), report.overall.precision, report.overall.recall


def test_default_rules_find_the_beat_in_urdu() -> None:
    # Urdu headlines and leads, text in the title, no outlet or date: the item's language
    # comes from its script. Precision as in English; recall short of English (see
    # docs/decisions.md: the misses left are events the text does not tie to the beat).
    count, precision, recall = _eval("relevance-urdu-dev.csv")
    assert count == 475
    assert precision >= 0.95, precision
    assert recall >= 0.91, recall


@pytest.mark.parametrize(
    ("title", "relevant"),
    [
        # diplomacy by its verbs, relations and aid; the Afghan government by its names
        ("Pakistan presses Afghanistan to clear stance on cross-border terrorism", True),
        ("Pakistan sends humanitarian aid to Afghanistan after earthquake", True),
        ("Taliban regime rejects Islamabad's claims", True),
        # international outlets' wording for the frontier
        ("Gunmen kill four soldiers in northwest Pakistan", True),
        # refugees: Afghans living in Pakistan and their resettlement
        ("Afghan families stranded in Pakistan await resettlement", True),
        # violence at a sporting venue is still violence
        ("Two killed in Bajaur blast during cricket match", True),
        # crime and accidents in frontier towns are not militancy
        ("Six dead as gas cylinder blast hits Mardan market", False),
        ("Seven shot dead in Kohat over personal enmity", False),
    ],
)
def test_concepts_of_the_beat(title: str, relevant: bool) -> None:
    from monitor.match.evaluate import LabelledItem

    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    matches = matcher.match(LabelledItem("x", "Dawn", title, ""))
    assert bool(matches) is relevant, [m.rule_id for m in matches]


def test_afghanistan_in_the_background_is_not_the_beat() -> None:
    # A separatist attack in Balochistan whose photo caption names the Afghan border, and a
    # report on Pakistan's ties with another country that mentions Afghanistan in passing.
    from monitor.match.evaluate import LabelledItem

    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    background = [
        LabelledItem(
            "a",
            "Dawn",
            "12 India-sponsored terrorists killed in two Balochistan IBOs: ISPR",
            "Soldiers patrol the Pakistan-Afghanistan border in Chaman. Six militants were"
            " killed in Washuk and six in Mastung.",
        ),
        LabelledItem(
            "b",
            "Dawn",
            "Pakistan seeks stronger bilateral ties with Bangladesh",
            "Dar met his Bangladeshi counterpart in Dhaka. Earlier, Pakistan and Afghanistan"
            " held a round of foreign ministers' dialogue in Kabul.",
        ),
    ]
    for item in background:
        assert matcher.match(item) == [], item.title
