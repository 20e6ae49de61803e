"""One feed's fault stays that feed's: a failure injected at each stage of the real pipeline
becomes the feed's recorded failure (kind `internal`), and the pass, the other feeds and the
metrics go on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import RELEVANT_RSS, rss, run, write_config
from servers import FeedServer

from monitor.health import Metrics
from monitor.match import Matcher
from monitor.pipeline import poll
from monitor.settings import load_settings
from monitor.store import Store
from monitor.store.engine import make_engine

# The hostile feed's items carry this word; the injected faults fire only on them (or on the
# hostile feed's URL), so the good feed beside it goes through the same code untouched.
POISON = "POISONED"
HOSTILE = rss(
    ("h1", f"TTP attack on check post in Bajaur {POISON}", "Militants attacked a post."),
    ("h2", f"Chaman border crossing closed {POISON}", "Traders stranded at Chaman."),
)


class Injected(RuntimeError):
    pass


def _raise_on(check: Callable[..., bool], real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if check(*args, **kwargs):
            raise Injected("injected fault")
        return real(*args, **kwargs)

    return wrapper


def _poisoned(*args: Any, **_: Any) -> bool:
    return any(POISON in repr(a) for a in args)


def _inject(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    import monitor.cluster
    import monitor.parse
    import monitor.pipeline

    if stage == "fetch":
        real = monitor.pipeline.fetch_one
        monkeypatch.setattr(
            monitor.pipeline,
            "fetch_one",
            _raise_on(lambda feed, *a: "hostile" in feed.url, real),
        )
    elif stage == "parse":
        real = monitor.parse.parse_feed
        monkeypatch.setattr(
            monitor.parse, "parse_feed", _raise_on(lambda body, *a: POISON.encode() in body, real)
        )
    elif stage == "match":
        monkeypatch.setattr(Matcher, "match", _raise_on(_poisoned, Matcher.match))
    elif stage == "cluster":
        real = monitor.cluster.fingerprint
        monkeypatch.setattr(monitor.cluster, "fingerprint", _raise_on(_poisoned, real))
    elif stage == "store":
        monkeypatch.setattr(Store, "add_items", _raise_on(_poisoned, Store.add_items))
    else:
        raise AssertionError(stage)


def _items_by_feed(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT f.name, count(*) FROM item i JOIN feed f ON f.id = i.feed_id GROUP BY f.name"
                )
            )
            return {name: n for name, n in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize("stage", ["fetch", "parse", "match", "cluster", "store"])
def test_a_fault_at_any_stage_fails_only_its_feed(
    stage: str, tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = [
        ("hostile", feed_server.feed("/hostile.xml", HOSTILE)),
        ("good", feed_server.feed("/good.xml", RELEVANT_RSS)),
    ]
    settings = load_settings(
        write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", feeds=feeds)
    )
    assert run(settings.path, "db", "upgrade").exit_code == 0
    _inject(monkeypatch, stage)
    with Store(settings.database_url) as store:
        store.sync_feeds(settings.feeds)
        report = poll(settings, store, Matcher.from_file(settings.rules_path), ignore_schedule=True)
        health = {h.name: h for h in store.feed_health()}
    stored = _items_by_feed(settings.database_url)

    assert report.feeds_polled == 2
    [failure] = report.failures
    assert (failure.name, failure.kind, failure.stage) == ("hostile", "internal", stage)
    assert failure.error.startswith(f"internal error in {stage}: Injected: injected fault")
    assert health["hostile"].error_streak == 1
    assert health["hostile"].last_error == failure.error
    assert health["good"].error_streak == 0
    assert stored == {"good": 3}  # and nothing of the hostile feed half-stored
    assert report.new_matches == 2  # the good feed's two beat items

    metrics = Metrics()
    metrics.record_pass(report, datetime.now(UTC))
    count = metrics.registry.get_sample_value("monitor_internal_failures_total", {"stage": stage})
    assert count == 1


def test_check_prints_an_internal_failure_and_exits_0(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = [
        ("hostile", feed_server.feed("/hostile.xml", HOSTILE)),
        ("good", feed_server.feed("/good.xml", RELEVANT_RSS)),
    ]
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", feeds=feeds)
    assert run(config, "db", "upgrade").exit_code == 0
    _inject(monkeypatch, "match")
    result = run(config, "check")
    assert result.exit_code == 0, result.output
    assert "internal error in match: Injected" in result.output
    assert "TTP attack on check post in North Waziristan" in result.output
    assert "failures: 1" in result.output
