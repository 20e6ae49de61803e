"""The `rules` command group through Click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def _labels(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "id,source,published,link,title,summary,relevant,topic,alert\n"


def test_eval_takes_several_files_per_file_and_pooled(tmp_path: Path) -> None:
    a = _labels(
        tmp_path,
        "a.csv",
        HEADER
        + "a1,X,,,Chaman border crossing closed after exchange of fire,,1,border,1\n"
        + "a2,X,,,Cricket: Pakistan beat Sri Lanka in Lahore,,0,,\n",
    )
    b = _labels(
        tmp_path,
        "b.csv",
        HEADER.replace(",alert", "")
        + "b1,X,,,Pakistan and Afghanistan hold talks in Doha on the TTP,,1,diplomacy\n"
        + "b2,X,,,Karachi stock exchange closes higher,,1,trade_transit\n",
    )
    result = CliRunner().invoke(rules, ["eval", str(a), str(b), "--rules", str(RULES), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["predictions"]) == {"a1", "a2", "b1", "b2"}  # pooled
    assert data["overall"]["tp"] == 2 and data["overall"]["fn"] == 1
    assert set(data["alerts"]) == set(data["predictions"])
    assert data["alerts"]["a1"] is True  # a crossing closed after firing
    files = data["files"]
    assert files[str(a)]["overall"]["recall"] == 1.0
    assert files[str(b)]["overall"]["recall"] == 0.5
    assert "alert_scores" in files[str(a)] and "alert_scores" not in files[str(b)]
    assert data["alert_scores"]["tp"] == 1  # pooled over the file that labels alerts

    text = CliRunner().invoke(rules, ["eval", str(a), str(b), "--rules", str(RULES)])
    assert text.exit_code == 0, text.output
    assert str(a) in text.output and str(b) in text.output
    assert "pooled over 2 files" in text.output
    assert "alerts: precision 1.000  recall 1.000" in text.output


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ("id,source,relevant\nx1,X,1\n", ":1", "missing column 'title'"),
        (HEADER + "x1,X,,,A title,,yes,border,\n", ":2:7", "relevant: expected 0, 1 or empty"),
        (HEADER + "x1,X,,,A title,,1,border,2\n", ":2:9", "alert: expected 0, 1 or empty"),
        (HEADER + "x1,X,,,A title,,1,borders,\n", ":2:8", "unknown topic 'borders'"),
        (
            HEADER + 'x1,X,,,A title,,0,,\nx2,X,,,"B\nC",,0,,\nx1,X,,,C,,0,,\n',
            ":5:1",
            "duplicate id 'x1' (first on line 2)",
        ),
    ],
)
def test_eval_names_file_line_and_column_of_bad_labels(
    tmp_path: Path, body: str, where: str, problem: str
) -> None:
    path = _labels(tmp_path, "bad.csv", body)
    result = CliRunner().invoke(rules, ["eval", str(path), "--rules", str(RULES)])
    assert result.exit_code == 1
    assert f"{path}{where}: " in result.output and problem in result.output
    assert "Traceback" not in result.output


def test_eval_refuses_an_id_in_two_files(tmp_path: Path) -> None:
    a = _labels(tmp_path, "a.csv", HEADER + "x1,X,,,A title,,0,,\n")
    b = _labels(tmp_path, "b.csv", HEADER + "x1,X,,,A title,,0,,\n")
    result = CliRunner().invoke(rules, ["eval", str(a), str(b), "--rules", str(RULES)])
    assert result.exit_code == 1
    assert f"{b}: id 'x1' is also in {a}" in result.output
