"""An item's language: the feed's, unless its text is clearly in another script; `lang:`
rules and the digest's direction and fonts follow it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from monitor.digest import render
from monitor.match import Matcher
from monitor.models import FeedState, Item, Match, Span, StoryEntry
from monitor.normalize import normalize
from monitor.script import direction, font_stack, item_language
from monitor.settings import FeedConfig
from monitor.store import NewItem, Store
from monitor.store import tables as t
from monitor.store.tables import table_of

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
URDU = "بنوں میں سکیورٹی فورسز کا آپریشن، 4دہشتگرد ہلاک"
PASHTO = "په شمالي وزیرستان کې د امنیتي ځواکونو عملیات"
DARI = "درگیری‌های مرزی میان نیروهای طالبان و پاکستان در ولایت ننگرهار"
ARABIC = "اشتباكات على الحدود بين القوات الباكستانية والأفغانية"
ENGLISH = "Security forces kill four terrorists in Bannu operation"


@pytest.mark.parametrize(
    ("configured", "title", "expected"),
    [
        ("en", URDU, "ur"),  # Arabic script in an English feed: Urdu by its letters
        ("en", PASHTO, "ps"),
        ("en-US", DARI, "fa"),
        ("en", ARABIC, "ar"),
        ("ur", ENGLISH, "en"),  # Latin script in an Urdu feed
        ("ps", ENGLISH, "en"),
        ("ur", URDU, "ur"),
        ("ps", URDU, "ps"),  # a Pashto feed's Urdu letters are its keyboard's
        ("en", ENGLISH, "en"),
        ("en", f"{ENGLISH} (طالبان)", "en"),  # a quoted word is not another script
        ("ur", "ISPR", "ur"),  # too few letters to say
        ("fa", "", "fa"),
    ],
)
def test_item_language_is_the_feeds_unless_the_script_says_otherwise(
    configured: str, title: str, expected: str
) -> None:
    assert item_language(configured, title) == expected


def test_normalize_gives_each_item_its_own_language() -> None:
    feed = FeedState(id=1, name="BBC", url="https://feeds.example.org/world.xml", language="en")
    urdu = normalize({"title": URDU, "link": "https://x.example.org/1"}, feed, NOW)
    english = normalize({"title": ENGLISH, "link": "https://x.example.org/2"}, feed, NOW)
    assert (urdu.language, english.language) == ("ur", "en")
    # `lang:` rules follow the item's language, not the feed's.
    matcher = Matcher.from_text(
        '[[rules]]\nid = "urdu"\ntopic = "t"\nmatch = "lang:ur AND (آپریشن OR operation)"\n'
    )
    assert [m.rule_id for m in matcher.match(urdu)] == ["urdu"]
    assert matcher.match(english) == []


def entry(sid: int, title: str, language: str) -> StoryEntry:
    return StoryEntry(
        story_id=sid,
        title=title,
        url=f"https://news.example.org/{sid}",
        summary=title,
        published=NOW,
        first_seen=NOW,
        outlets=("Outlet",),
        topics=("ttp_militancy",),
        rules=("kp-militancy",),
        language=language,
    )


def test_digest_renders_urdu_right_to_left_in_nastaliq() -> None:
    html = render(
        [entry(1, URDU, "ur"), entry(2, ENGLISH, "en"), entry(3, DARI, "fa")],
        recipient="a@example.org",
        timezone="Asia/Karachi",
        now=NOW,
    ).html
    urdu_title = html[html.index(URDU) - 400 : html.index(URDU)]
    assert 'dir="rtl" lang="ur"' in urdu_title and "Noto Nastaliq Urdu" in urdu_title
    english_title = html[html.index(ENGLISH) - 400 : html.index(ENGLISH)]
    assert 'dir="ltr" lang="en"' in english_title and "Nastaliq" not in english_title
    dari_title = html[html.index(DARI) - 400 : html.index(DARI)]
    assert 'dir="rtl" lang="fa"' in dari_title and "Noto Naskh Arabic" in dari_title
    assert "Nastaliq" not in dari_title
    assert direction("ur-PK") == "rtl" and direction("en") == "ltr"
    assert font_stack("en", "Arial") == "Arial"


def test_stored_stories_carry_the_language_of_their_title(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        store.sync_feeds([FeedConfig("World", "https://feeds.example.org/world", "en")])
        feed_id = store.due_feeds(NOW, ignore_schedule=True)[0].id
        new = []
        for i, title in enumerate((URDU, ENGLISH)):
            item = Item(
                feed_id=feed_id,
                key=f"k{i}",
                url=f"https://news.example.org/{i}",
                title=title,
                summary="",
                published=NOW,
                fetched=NOW,
                content_hash=str(i),
                source="World",
            )
            match = Match(
                "kp-militancy", "ttp_militancy", "digest", spans=(Span("title", 0, 4, title[:4]),)
            )
            new.append(NewItem(item, item.url or "", (match,)))
        store.add_items(new)
        with store.engine.connect() as conn:
            ids = list(conn.execute(sa.select(table_of(t.Story).c.id)).scalars())
        languages = {s.title: s.language for s in store.stories_by_ids(ids)}
    assert languages == {URDU: "ur", ENGLISH: "en"}
