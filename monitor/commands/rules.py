"""`monitor rules ...`: lint the rules file, try rules on a text, measure them on labels.

This module owns the command-line face of `monitor.match`; the main CLI registers the group
with `from monitor.commands.rules import rules`. Errors the user can fix are printed without
a traceback and exit with status 1.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from monitor.errors import LabelsError, RulesError
from monitor.match import Matcher
from monitor.match.evaluate import LabelledItem, Report, evaluate, read_labels, report_json
from monitor.models import Span

DEFAULT_RULES = Path("config/rules.toml")

_rules_option = click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Rules file (TOML); default: the configured one, else config/rules.toml.",
)


def _rules_path(path: Path | None) -> Path:
    """The --rules option, else the rules file of the configuration, else the default."""
    if path is not None:
        return path
    from monitor.errors import ConfigError
    from monitor.settings import load_settings

    ctx = click.get_current_context()
    try:
        return load_settings((ctx.find_root().obj or {}).get("config")).rules_path
    except ConfigError:
        return DEFAULT_RULES


@dataclass(frozen=True, slots=True)
class _Text:
    """Fields given on the command line, shaped like an Item for the matcher."""

    title: str
    summary: str
    source: str
    language: str


def _console() -> Console:
    # Markup on, colour only on a terminal: piped output stays plain text.
    return Console(highlight=False, soft_wrap=True)


def _load(path: Path | None) -> Matcher:
    try:
        return Matcher.from_file(_rules_path(path))
    except RulesError as exc:
        raise click.ClickException(_explain(exc)) from None


def _explain(exc: RulesError) -> str:
    """The error message, and for expression errors the expression with a caret under it."""
    message = str(exc)
    if exc.position is None:
        return message
    try:
        book_text = Path(exc.file).read_text(encoding="utf-8")
    except OSError:
        return message
    try:
        data = tomllib.loads(book_text)
    except tomllib.TOMLDecodeError:
        return message
    for rule in data.get("rules", []):
        if isinstance(rule, dict) and rule.get("id") == exc.rule_id:
            key = "exclude" if exc.problem.endswith("(in exclude)") else "match"
            expr = rule.get(key, "")
            if isinstance(expr, str) and "\n" not in expr:
                return f"{message}\n  {expr}\n  {' ' * exc.position}^"
    return message


@click.group()
def rules() -> None:
    """Check and try out the keyword rules."""


@rules.command()
@_rules_option
def lint(rules_path: Path | None) -> None:
    """Compile the rules file and report rules per topic, or the first error."""
    matcher = _load(rules_path)
    counts = Counter(r.topic for r in matcher.rules)
    alerts = sum(1 for r in matcher.rules if r.severity == "alert")
    click.echo(
        f"OK {_rules_path(rules_path)}: {len(matcher.rules)} rules ({alerts} alert), "
        f"{len(matcher.book.lexicons)} lexicons, {matcher.term_count} distinct terms"
    )
    for topic, count in sorted(counts.items()):
        click.echo(f"  {topic}: {count}")


def _highlight(text: str, spans: list[Span]) -> str:
    out: list[str] = []
    at = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.start < at:  # overlapping spans: the first one wins
            continue
        out.append(escape(text[at : span.start]))
        out.append(f"[bold reverse]{escape(text[span.start : span.end])}[/]")
        at = span.end
    out.append(escape(text[at:]))
    return "".join(out)


@rules.command("test")
@click.argument("text", required=False, default="")
@click.option("--title", default=None, help="Title to match (default: TEXT).")
@click.option("--summary", default="", help="Summary to match.")
@click.option("--source", default="", help="Outlet name, for source: rules.")
@click.option("--lang", default="", help="Language code, for lang: rules.")
@_rules_option
def test_text(
    text: str, title: str | None, summary: str, source: str, lang: str, rules_path: Path | None
) -> None:
    """Show which rules fire on TEXT (matched as the title) and on which words."""
    if title is not None and text:
        summary = f"{text} {summary}".strip() if summary else text
    item = _Text(title if title is not None else text, summary, source, lang)
    _print_matches(_console(), _load(rules_path), item)


def _print_matches(console: Console, matcher: Matcher, item: _Text) -> None:
    """Which rules fire on `item` and why, with the matched spans highlighted."""
    matches = matcher.match(item)
    if not matches:
        console.print("No rule fires.")
        return
    for m in matches:
        rule = next(r for r in matcher.rules if r.id == m.rule_id)
        console.print(
            f"[bold]{escape(m.rule_id)}[/] topic={escape(m.topic)} severity={m.severity} "
            f"version={m.rule_version}"
        )
        console.print(f"  match: {escape(rule.text)}")
        if rule.exclude:
            console.print(f"  exclude (not found): {escape(rule.exclude)}")
        for field, value in (("title", item.title), ("summary", item.summary)):
            spans = [s for s in m.spans if s.field == field]
            if spans:
                console.print(f"  {field}: {_highlight(value, spans)}")


@rules.command("explain")
@click.argument("item_id", type=int)
@_rules_option
@click.pass_context
def explain(ctx: click.Context, item_id: int, rules_path: Path | None) -> None:
    """Why a stored item matched: the rules recorded when it was stored, and today's rules."""
    from monitor.commands.common import open_store

    found = open_store(ctx).item_with_matches(item_id)
    if found is None:
        raise click.ClickException(f"no item {item_id} in the database")
    stored, recorded = found
    console = _console()
    console.print(f"[bold]item {item_id}[/] {escape(stored.source)}: {escape(stored.title)}")
    item = _Text(stored.title, stored.summary, stored.source, stored.language)
    if recorded:
        console.print("[bold]recorded when stored[/]:")
        for m in recorded:
            console.print(
                f"  {escape(m.rule_id)} (version {m.rule_version}, topic {escape(m.topic)})"
            )
            for field, value in (("title", item.title), ("summary", item.summary)):
                spans = [s for s in m.spans if s.field == field]
                if spans:
                    console.print(f"    {field}: {_highlight(value, spans)}")
    else:
        console.print("No rule fired when it was stored.")
    console.print("[bold]with the current rules[/]:")
    _print_matches(console, _load(rules_path), item)


def _print_report(console: Console, report: Report) -> None:
    total = len(report.predictions)
    console.print(f"{total} items, {report.predicted_relevant} predicted relevant")
    if report.overall is None:
        console.print("No labels in this file: predictions only (use --json to list them).")
        return
    _print_figures(console, report)
    console.print("per topic (predicted topic = first rule that fires):")
    for name, s in report.per_topic.items():
        console.print(
            f"  {name:<15} P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}  "
            f"(tp {s.tp}, fp {s.fp}, fn {s.fn})"
        )
    fired = {i: ", ".join(rules) for i, rules in report.rules_fired.items()}
    lists: list[tuple[str, Sequence[LabelledItem], Callable[[LabelledItem], str]]] = [
        ("misses", report.misses, lambda item: escape(f"[{item.topic}]")),
        ("false alarms", report.false_alarms, lambda item: escape(f"({fired[item.id]})")),
    ]
    if report.alert_scores is not None:
        lists += [
            ("missed alerts", report.missed_alerts, lambda item: ""),
            ("false alerts", report.false_alerts, lambda item: escape(f"({fired[item.id]})")),
        ]
    for heading, items, note in lists:
        console.print(f"[bold]{heading}[/] ({len(items)}):")
        for item in items:
            parts = (item.id, note(item), escape(item.title))
            console.print("  " + " ".join(p for p in parts if p))


def _print_figures(console: Console, report: Report) -> None:
    """The headline lines: relevance, and alerts where the labels have them."""
    lines = [("relevant", report.overall), ("alerts", report.alert_scores)]
    for name, s in lines:
        if s is not None:
            console.print(
                f"[bold]{name}[/]: precision {s.precision:.3f}  recall {s.recall:.3f}  "
                f"F1 {s.f1:.3f}  (tp {s.tp}, fp {s.fp}, fn {s.fn})"
            )


@rules.command("eval")
@click.argument(
    "labels", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@_rules_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (pooled, and per file)."
)
def eval_labels(labels: tuple[Path, ...], rules_path: Path | None, as_json: bool) -> None:
    """Score the rules on label CSVs: precision, recall, F1, misses and false alarms, and
    alert precision and recall where a file has an `alert` column. With several files:
    each file's figures, then the figures pooled over all of them."""
    matcher = _load(rules_path)
    files: dict[str, list[LabelledItem]] = {}
    seen: dict[str, str] = {}
    for path in labels:
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                items = read_labels(fh, str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{path}: cannot read labels: {exc}") from None
        except LabelsError as exc:
            raise click.ClickException(str(exc)) from None
        for item in items:
            if item.id in seen:  # pooled figures are keyed by id
                raise click.ClickException(f"{path}: id {item.id!r} is also in {seen[item.id]}")
            seen[item.id] = str(path)
        files[str(path)] = items
    reports = {name: evaluate(matcher, items) for name, items in files.items()}
    pooled = (
        next(iter(reports.values()))
        if len(reports) == 1
        else evaluate(matcher, [i for items in files.values() for i in items])
    )
    if as_json:
        out = report_json(pooled)
        if len(reports) > 1:
            out["files"] = {name: _figures(r) for name, r in reports.items()}
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    console = _console()
    for name, report in reports.items():
        if len(reports) > 1:
            console.print(f"[bold]{escape(name)}[/]")
        _print_report(console, report)
    if len(reports) > 1:
        console.print(f"[bold]pooled over {len(reports)} files[/]")
        _print_figures(console, pooled)


def _figures(report: Report) -> dict[str, object]:
    """A file's headline figures for `--json`: relevance and, where labelled, alerts."""
    out: dict[str, object] = {"items": len(report.predictions)}
    if report.overall is not None:
        out["overall"] = report.overall.as_dict()
    if report.alert_scores is not None:
        out["alert_scores"] = report.alert_scores.as_dict()
    return out
