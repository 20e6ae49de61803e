"""Terminal output of the CLI: Rich tables of passes, feeds and the digest ledger.

Everything a feed or a server controls (titles, outlets, names, URLs, errors, notices) goes
through `escape` before Rich sees it: Rich reads `[...]` as markup, so a title holding
`[/video]` would raise, and `[link=…]` would forge a terminal link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.models import PassReport
from monitor.store import DigestRow, FeedHealth


def _console() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        console = Console(highlight=False, soft_wrap=False, width=140)
    return console


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "—"


def print_pass(report: PassReport, *, dry_run: bool = False, show: int = 50) -> None:
    """The new matching items by topic (newest first within a topic, at most `show` rows of
    those the report lists), feeds that moved or failed, and a summary line."""
    console = _console()
    if report.matched:
        title = "New matching items" + (" (dry run: nothing stored)" if dry_run else "")
        table = Table(title=title)
        table.add_column("topic", style="bold")
        table.add_column("title", overflow="fold")
        table.add_column("outlet")
        table.add_column("published")
        rows = sorted(
            report.matched,
            key=lambda nm: (
                nm.matches[0].topic,
                -(nm.item.published or nm.item.fetched).timestamp(),
            ),
        )
        for nm in rows[:show]:
            topics = ", ".join(dict.fromkeys(m.topic for m in nm.matches))
            table.add_row(
                topics, escape(nm.item.title), escape(nm.item.source), _when(nm.item.published)
            )
        console.print(table)
    if report.new_matches > show:
        console.print(
            f"… and {report.new_matches - show} more (--show N lists more; the digest has them all)"
        )
    for notice in report.notices:
        console.print(f"[yellow]notice[/yellow] {escape(notice)}", markup=True)
    for f in report.failures:
        console.print(
            f"[red]failed[/red] {escape(f.name)} ({escape(f.url)}): {escape(f.error)}",
            markup=True,
        )
    console.print(pass_summary(report))


def pass_summary(report: PassReport) -> str:
    """The one line that sums up a pass (all `monitor check --quiet` prints)."""
    return (
        f"feeds polled: {report.feeds_polled}, not modified: {report.not_modified}, "
        f"new items: {report.new_items}, new matches: {report.new_matches}, "
        f"failures: {len(report.failures)}"
    )


@contextmanager
def pass_progress(total: int) -> Iterator[Callable[[int, int, bool], None]]:
    """A progress bar of a pass on the terminal (feeds done of `total`, new items, matches,
    failures), erased when the pass ends; yields the callback `pipeline.poll` calls per feed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    fields = "feeds, {task.fields[items]} new items, {task.fields[matches]} matches, "
    fields += "{task.fields[failures]} failures"
    columns = (TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TextColumn(fields))
    with Progress(*columns, TimeElapsedColumn(), console=_console(), transient=True) as bar:
        task = bar.add_task("poll", total=total, items=0, matches=0, failures=0)
        counts = [0, 0, 0]  # new items, matches, failures

        def advance(items: int, matches: int, failed: bool) -> None:
            counts[0] += items
            counts[1] += matches
            counts[2] += failed
            bar.update(task, advance=1, items=counts[0], matches=counts[1], failures=counts[2])

        yield advance


def is_terminal() -> bool:
    """Whether the CLI's output goes to a terminal (Rich's answer, as `_console` uses it)."""
    return Console().is_terminal


def print_feeds(health: Sequence[FeedHealth]) -> None:
    table = Table(title="Feeds")
    columns = (
        "name",
        "status",
        "last success",
        "errors",
        "next check",
        "7 days",
        "url / last error",
    )
    for col in columns:
        table.add_column(col, overflow="fold")
    colors = {"ok": "green", "failing": "red", "gone": "red", "silent": "yellow"}
    for h in health:
        st = h.status
        label = st.detail if st.label == "failing" else st.label
        if st.label in colors:
            label = f"[{colors[st.label]}]{label}[/{colors[st.label]}]"
        notes = [h.url]
        if h.moved_from:
            notes.append(f"moved from {h.moved_from} on {_when(h.moved_at)}")
        if h.last_error:
            notes.append(h.last_error)
        table.add_row(
            escape(h.name),
            label,
            _when(h.last_success),
            str(h.error_streak),
            "—" if st.label in ("gone", "disabled") else _when(h.next_check),
            str(h.items_7d),
            escape("\n".join(notes)),
        )
    _console().print(table)


def print_digests(rows: Sequence[DigestRow]) -> None:
    table = Table(title="Digests")
    for col in ("id", "created", "kind", "recipient", "stories", "status", "attempts", "error"):
        table.add_column(col, overflow="fold")
    for d in rows:
        if d.status == "sent":
            status = f"[green]sent[/green] {_when(d.sent_at)}"
        elif d.status == "failed":
            status = "[red]failed (permanent)[/red]"
        elif d.status == "pending":
            retry = _when(d.next_attempt) if d.next_attempt else "now"
            status = f"[yellow]pending[/yellow], retry {retry}"
            if d.uncertain:
                status += " (may have arrived)"
        else:
            status = d.status
        stories = str(d.story_count)
        if d.shown is not None and d.shown < d.story_count:
            stories += f" ({d.shown} in full)"
        table.add_row(
            str(d.id),
            _when(d.created),
            d.kind,
            escape(d.recipient),
            stories,
            status,
            str(d.attempts),
            escape(d.error or ""),
        )
    _console().print(table)
