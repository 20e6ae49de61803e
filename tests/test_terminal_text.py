"""Feed-controlled text reaches the terminal as text: Rich never reads it as markup."""

from __future__ import annotations

from pathlib import Path

from conftest import rss, run, write_config
from servers import FeedServer, Response

TITLES = (
    "TTP attack on check post in Bajaur [/video]",
    "Chaman border crossing closed [link=https://evil.example]click[/link]",
)


def test_markup_in_titles_and_reason_phrases_is_printed_verbatim(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    body = rss(*((f"t{i}", title, "Militants attacked.") for i, title in enumerate(TITLES)))
    feeds = [
        ("[bold]outlet[/]", feed_server.feed("/markup.xml", body)),
        ("broken", feed_server.route("/gone.xml", Response(404, b"", reason="Not [/] Found"))),
    ]
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", feeds=feeds)
    assert run(config, "db", "upgrade").exit_code == 0

    check = run(config, "check")
    assert check.exit_code == 0, check.output
    flat = " ".join(check.output.split())  # the table folds long titles
    assert "[/video]" in flat and "[link=https://evil.example]click[/link]" in flat
    assert "HTTP 404 Not [/] Found" in check.output
    for args in (("feeds", "list"), ("status",), ("check", "--all")):  # stored, and again
        result = run(config, *args)
        assert result.exit_code == (1 if args == ("status",) else 0), result.output  # 1: no daemon
        assert "Not [/] Found" in " ".join(result.output.split()), args
    assert "[bold]outlet[/]" in run(config, "feeds", "list").output
