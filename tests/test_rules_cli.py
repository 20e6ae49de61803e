"""The `rules` command group through Click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.commands.rules import rules

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "config" / "rules.toml"
LABELS = ROOT / "tests" / "data" / "labels" / "relevance-dev.csv"


def test_lint_ok_counts_topics() -> None:
    result = CliRunner().invoke(rules, ["lint", "--rules", str(RULES)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK ")
    assert "ttp_militancy:" in result.output and "border:" in result.output


def test_lint_error_exit_1_names_rule_position_expected(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rules]]\nid = "r1"\ntopic = "border"\nmatch = "(Chaman OR Torkham"\n')
    result = CliRunner().invoke(rules, ["lint", "--rules", str(bad)])
    assert result.exit_code == 1
    assert "'r1'" in result.output and "position 18" in result.output
    assert "expected ')'" in result.output and "Traceback" not in result.output
    assert "^" in result.output  # caret under the position


def test_test_command_shows_rule_and_span() -> None:
    result = CliRunner().invoke(
        rules,
        ["test", "Fitna al-Khawarij attack in North Waziristan", "--rules", str(RULES)],
    )
    assert result.exit_code == 0, result.output
    assert "ttp" in result.output and "Fitna al-Khawarij" in result.output


def test_test_command_no_match() -> None:
    result = CliRunner().invoke(rules, ["test", "Rain delays play", "--rules", str(RULES)])
    assert result.exit_code == 0 and "No rule fires" in result.output


def test_eval_json_shape() -> None:
    result = CliRunner().invoke(rules, ["eval", str(LABELS), "--rules", str(RULES), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data["overall"]) >= {"precision", "recall", "f1"}
    assert len(data["predictions"]) == 779
    assert all(isinstance(v, bool) for v in data["predictions"].values())
    assert "border" in data["per_topic"]


def test_eval_without_labels_prints_predictions_only(tmp_path: Path) -> None:
    unlabelled = tmp_path / "items.csv"
    unlabelled.write_text(
        "id,source,published,link,title,summary\n"
        "a,Dawn,,,Torkham border closed for trade,\n"
        "b,Dawn,,,Rain delays play,\n"
    )
    result = CliRunner().invoke(rules, ["eval", str(unlabelled), "--rules", str(RULES), "--json"])
    data = json.loads(result.output)
    assert data["predictions"] == {"a": True, "b": False}
    assert "overall" not in data
    text = CliRunner().invoke(rules, ["eval", str(unlabelled), "--rules", str(RULES)])
    assert text.exit_code == 0 and "1 predicted relevant" in text.output
