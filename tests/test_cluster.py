"""Story clustering core: fingerprints, decide(), the memory index, the clusterer, updates."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cluster import (
    Candidate,
    Clusterer,
    ClusterSettings,
    MemoryStoryIndex,
    Neighbour,
    StoryFacts,
    decide,
    facts_of,
    fingerprint,
    index_keys,
    is_update,
)
from monitor.cluster.decide import TIED
from monitor.cluster.index import tie
from monitor.cluster.text import strip_boilerplate, tokens

T0 = datetime(2025, 10, 12, 6, 0, tzinfo=UTC)
SETTINGS = ClusterSettings()


def neighbour(story: int, url: str, title: str, summary: str, hours: float) -> Neighbour:
    return Neighbour(story, url, fingerprint(title, summary), T0 + timedelta(hours=hours))


def candidate(url: str, title: str, summary: str, hours: float) -> Candidate:
    return Candidate(url, fingerprint(title, summary), T0 + timedelta(hours=hours))


# --- text and fingerprints -------------------------------------------------------------


def test_tokens_fold_synonyms_and_numbers() -> None:
    a = tokens("Twenty-three troops martyred, 200 terrorists neutralised in D.I. Khan")
    b = tokens("23 troops martyred, 200 terrorists killed in Dera Ismail Khan")
    assert a == b


def test_urdu_is_tokenised_without_stop_words() -> None:
    toks = tokens("عمران خان نے افغانستان کے ساتھ مذاکرات کی پیشکش کی ہے")
    assert "افغانستان" in toks and "کے" not in toks and "نے" not in toks


def test_caption_and_credit_are_stripped() -> None:
    summary = (
        "Troops patrol the fence in Khyber on August 3, 2021. — AFP/FilePakistan Army "
        "has eliminated 45 to 50 militants in Mohmand."
    )
    text = strip_boilerplate(summary)
    assert text.startswith("Pakistan Army") and "2021" not in text


def test_fingerprint_is_deterministic_across_processes() -> None:
    title, summary = "Pakistan, Afghanistan extend ceasefire", "The 48-hour truce was extended."
    here = fingerprint(title, summary)
    code = (
        "from monitor.cluster import fingerprint;"
        f"f = fingerprint({title!r}, {summary!r});"
        "print(','.join(f.band_keys)); print(f.signature); print(f.exact_key)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": "."},
    ).stdout.splitlines()
    assert out == [",".join(here.band_keys), str(here.signature), here.exact_key]


def test_near_duplicates_share_a_band_key() -> None:
    a = fingerprint(
        "Security forces kill 34 terrorists in multiple engagements across KP: ISPR",
        "Security forces have killed 34 terrorists in multiple engagements in Khyber "
        "Pakhtunkhwa, the military's media wing said.",
    )
    b = fingerprint(
        "Security forces kill 34 terrorists in three KP engagements: ISPR",
        "Security forces killed 34 terrorists in multiple engagements in Khyber "
        "Pakhtunkhwa, the military's media affairs wing said on Thursday.",
    )
    assert set(a.band_keys) & set(b.band_keys)
    assert all(len(k) <= 16 and k.isascii() for k in a.band_keys)


# --- decide ----------------------------------------------------------------------------

CEASEFIRE = "Pakistan and Afghanistan extend ceasefire, confirms diplomatic source"
CEASEFIRE_LEAD = "The 48-hour ceasefire between Pakistan and Afghanistan was extended."


def test_same_canonical_url_joins() -> None:
    n = neighbour(7, "https://www.dawn.com/news/1", "Old headline", "", 0)
    d = decide(candidate("https://www.dawn.com/news/1", "New headline", "", 5), [n], SETTINGS)
    assert (d.story_id, d.reason, d.score) == (7, "same canonical URL", 1.0)


def test_same_title_and_lead_joins_across_outlets() -> None:
    n = neighbour(3, "https://a.example/1", CEASEFIRE, CEASEFIRE_LEAD, 0)
    d = decide(candidate("https://b.example/9", CEASEFIRE, CEASEFIRE_LEAD, 30), [n], SETTINGS)
    assert d.story_id == 3 and "same title and lead" in d.reason


def test_reworded_wire_copy_joins() -> None:
    n = neighbour(
        5,
        "https://www.dawn.com/news/1949071/a",
        "Security forces repel attack in Balochistan, 15-20 Afghan Taliban killed: ISPR",
        "Security forces repelled an attack by Afghan Taliban along the border in "
        "Balochistan, killing 15 to 20 of the attackers, ISPR said.",
        0,
    )
    c = candidate(
        "https://www.geo.tv/latest/628678-x",
        "Security forces repel attack along Balochistan border, 15-20 Afghan Taliban killed",
        "Between 15 and 20 Afghan Taliban were killed as security forces repelled an "
        "attack along the Balochistan border, the military said.",
        1,
    )
    d = decide(c, [n], SETTINGS)
    assert d.story_id == 5
    assert "title similarity" in d.reason and d.score >= SETTINGS.near_threshold


def test_different_incidents_on_different_days_do_not_join() -> None:
    n = neighbour(
        1,
        "https://www.dawn.com/news/1",
        "Four terrorists killed as security forces foil suicide attack in North Waziristan",
        "Four terrorists were killed in North Waziristan.",
        0,
    )
    c = candidate(
        "https://www.dawn.com/news/2",
        "Ten terrorists killed as security forces foil attack in Bajaur",
        "Ten terrorists were killed in Bajaur.",
        40,
    )
    assert decide(c, [n], SETTINGS).story_id is None


def test_follow_up_event_does_not_join() -> None:
    # Same topic, next event: ceasefire agreed versus ceasefire extended.
    n = neighbour(
        1,
        "https://x.example/1",
        "Pakistan, Afghanistan agree temporary ceasefire",
        "The Foreign Office said a 48-hour ceasefire was agreed.",
        0,
    )
    c = candidate("https://x.example/2", CEASEFIRE, CEASEFIRE_LEAD, 50)
    assert decide(c, [n], SETTINGS).story_id is None


def test_window_expiry() -> None:
    n = neighbour(3, "https://a.example/1", CEASEFIRE, CEASEFIRE_LEAD, 0)
    inside = decide(candidate("https://b.example/1", CEASEFIRE, CEASEFIRE_LEAD, 71), [n], SETTINGS)
    outside = decide(candidate("https://b.example/1", CEASEFIRE, CEASEFIRE_LEAD, 73), [n], SETTINGS)
    same_url = decide(
        candidate("https://a.example/1", CEASEFIRE, CEASEFIRE_LEAD, 100), [n], SETTINGS
    )
    assert inside.story_id == 3
    assert outside.story_id is None and same_url.story_id is None


def test_best_story_wins_and_order_does_not_matter() -> None:
    close = neighbour(9, "https://a.example/1", CEASEFIRE, CEASEFIRE_LEAD + " Talks in Doha.", 0)
    far = neighbour(
        4,
        "https://a.example/2",
        "China supports Pakistan-Afghanistan ceasefire",
        "Beijing welcomed the truce.",
        0,
    )
    c = candidate(
        "https://b.example/1", "Pakistan, Afghanistan extend ceasefire", CEASEFIRE_LEAD, 2
    )
    assert decide(c, [close, far], SETTINGS) == decide(c, [far, close], SETTINGS)
    assert decide(c, [close, far], SETTINGS).story_id == 9


def test_a_neighbour_tied_by_one_weak_key_is_not_scored_alone() -> None:
    wire = neighbour(5, "https://a.example/1", CEASEFIRE, CEASEFIRE_LEAD, 0)
    wire = replace(wire, item_key="w")
    c = candidate("https://b.example/1", "Pakistan, Afghanistan extend ceasefire", "", 1)
    pairwise = ClusterSettings(events=False)  # the event rule would join these too
    assert "title similarity" in decide(c, [wire], pairwise).reason  # close on its own
    assert decide(c, [wire], pairwise, {"w": TIED}).story_id == 5
    # Found under one LSH band or event key only: not compared pair by pair.
    assert decide(c, [wire], pairwise, {"w": tie("b1234")}).story_id is None
    # ... unless it is the same outlet article, re-headlined, which is looked at anyway.
    same_page = replace(wire, canonical_url="https://www.dawn.com/news/1949071/old-headline")
    c_page = replace(c, canonical_url="https://www.dawn.com/news/1949071/new-headline")
    article = ClusterSettings(events=False, same_article_threshold=0.2)
    d = decide(c_page, [same_page], article, {"w": 1})
    assert d.story_id == 5 and "same article" in d.reason


def test_index_weighs_what_ties_each_neighbour() -> None:
    index = MemoryStoryIndex()
    fp = fingerprint(CEASEFIRE, CEASEFIRE_LEAD)
    index.add(1, "one", "https://a.example/1", fp, T0)
    keys = index_keys("https://a.example/1", fp)
    weak = [k for k in keys if tie(k) == 1]
    strong = [k for k in keys if tie(k) == 2]
    assert weak and strong and {k[0] for k in weak} <= set("bks")
    since = T0 - timedelta(hours=1)
    assert index.candidates(weak[:1], since).shared == {"one": 1}
    assert index.candidates([*weak[:2], strong[0]], since).shared == {"one": 4}
    assert index.candidates(["p-unknown"], since) == ([], {})


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text())
def test_fingerprint_and_decide_never_raise(title: str, summary: str, other: str) -> None:
    fp = fingerprint(title, summary)
    n = Neighbour(1, "u", fingerprint(other, title), T0)
    d = decide(Candidate("", fp, T0 + timedelta(hours=1)), [n], SETTINGS)
    assert d.story_id in (None, 1) and 0.0 <= d.score <= 1.0


# --- index and clusterer ---------------------------------------------------------------


def test_memory_index_prunes_to_the_window() -> None:
    index = MemoryStoryIndex(retention=timedelta(hours=72))
    clusterer = Clusterer(index, SETTINGS)
    for day in range(30):
        clusterer.assign(
            f"k{day}",
            f"https://a.example/{day}",
            f"Event number {day} in Kurram",
            "Some lead text.",
            T0 + timedelta(days=day),
        )
    assert len(index) <= 4  # three days of one item a day, plus the newest
    keys_after_30 = index.key_count
    for day in range(30, 60):
        clusterer.assign(
            f"k{day}",
            f"https://a.example/{day}",
            f"Event number {day} in Kurram",
            "Some lead text.",
            T0 + timedelta(days=day),
        )
    assert len(index) <= 4 and index.key_count <= keys_after_30 + 20


def test_clusterer_allocates_ids_and_finds_url_duplicates() -> None:
    ids = iter([100, 101, 102])
    clusterer = Clusterer(MemoryStoryIndex(), SETTINGS, allocate=lambda: next(ids))
    first = clusterer.assign(
        "a", "https://www.dawn.com/news/1/x?utm_source=rss", CEASEFIRE, CEASEFIRE_LEAD, T0
    )
    again = clusterer.assign(
        "b", "https://m.dawn.com/news/1/x", "Totally different words", "", T0 + timedelta(hours=3)
    )
    other = clusterer.assign(
        "c",
        "https://www.geo.tv/latest/2",
        "Cricket: Pakistan win toss",
        "Match report.",
        T0 + timedelta(hours=4),
    )
    assert (first.story_id, first.new) == (100, True)
    assert (again.story_id, again.new, again.reason) == (100, False, "same canonical URL")
    assert (other.story_id, other.new) == (101, True)


def test_clusterer_reports_updates_when_enabled() -> None:
    clusterer = Clusterer(MemoryStoryIndex(), ClusterSettings(updates=True))
    title = "Attack on police training centre in DI Khan: {} cops martyred"
    lead = "Terrorists attacked the police training centre in Dera Ismail Khan."
    clusterer.assign("a", "https://a.example/1", title.format(3), lead, T0)
    d = clusterer.assign("b", "https://b.example/1", title.format(7), lead, T0 + timedelta(hours=2))
    assert d.update == "martyred figure rose from 3 to 7"


# --- updates ---------------------------------------------------------------------------


def test_is_update_rising_casualties() -> None:
    story = facts_of(fingerprint("Blast in Bajaur: 8 killed", "At least 8 people were killed."))
    later = fingerprint("Bajaur blast death toll rises, 12 killed", "12 people were killed.")
    assert is_update(story, later) == "casualty figure rose from 8 to 12"


def test_is_update_new_place_and_nothing_new() -> None:
    story = facts_of(fingerprint("Clashes in Kurram: 5 killed", "Five killed in Kurram."))
    assert is_update(
        story, fingerprint("Clashes spread to Bajaur", "Fighting in Kurram and Bajaur.")
    ) == ("new place: bajaur")
    assert is_update(story, fingerprint("Kurram clashes: 5 killed", "Five killed.")) is None
    assert is_update(story, fingerprint("Kurram clashes: 3 killed", "")) is None  # lower: no
    assert is_update(StoryFacts(), fingerprint("Kurram: 9 killed", "")) is None  # first figure


# --- event signatures ------------------------------------------------------------------


def test_event_kind_is_the_headline_predicate() -> None:
    from monitor.cluster.event import event_of

    clash = event_of(
        "Violent clashes erupt along Pak-Afghan border; friendly countries urge restraint"
    )
    assert clash is not None and clash.kind == "clash" and clash.afghan
    statement = event_of(
        "'Long live Pakistan': Politicians united in response to unprovoked Afghan aggression"
    )
    assert statement is not None and statement.kind == "statement"
    warning = event_of("FO says further provocation will be met with befitting response")
    assert warning is not None and warning.kind == "statement" and warning.speakers == {"fo"}
    assert event_of("Fact check: viral video does not show tank captured by Taliban") is None
    assert event_of("Afghan clashes") is None  # an editorial's title


def test_reworded_reports_of_one_clash_join_but_a_statement_does_not() -> None:
    clusterer = Clusterer(MemoryStoryIndex(), SETTINGS)
    first = clusterer.assign(
        "a",
        "https://geo.tv/1",
        "Pakistan Army retaliates after Afghan forces open unprovoked fire",
        "",
        T0,
    )
    second = clusterer.assign(
        "b",
        "https://dawn.com/2",
        "Violent clashes erupt along Pak-Afghan border",
        "",
        T0 + timedelta(hours=1),
    )
    reply = clusterer.assign(
        "c",
        "https://dawn.com/3",
        "Opposition urges dialogue amid Pakistan-Afghanistan skirmishes",
        "",
        T0 + timedelta(hours=2),
    )
    assert second.story_id == first.story_id and "same event (clash" in second.reason
    assert reply.story_id != first.story_id


def test_a_clash_two_days_later_is_another_story() -> None:
    clusterer = Clusterer(MemoryStoryIndex(), SETTINGS)
    first = clusterer.assign("a", "", "Violent clashes erupt along Pak-Afghan border", "", T0)
    later = clusterer.assign(
        "b",
        "",
        "Army responds to unprovoked fire by Afghan Taliban at Kurram border",
        "",
        T0 + timedelta(hours=40),
    )
    assert later.story_id != first.story_id


def test_events_off_restores_the_lexical_rule() -> None:
    off = ClusterSettings(events=False)
    clusterer = Clusterer(MemoryStoryIndex(), off)
    first = clusterer.assign(
        "a", "", "Pakistan Army retaliates after Afghan forces open unprovoked fire", "", T0
    )
    second = clusterer.assign(
        "b", "", "Violent clashes erupt along Pak-Afghan border", "", T0 + timedelta(hours=1)
    )
    assert second.story_id != first.story_id
