"""Parser: precedence, parentheses, NOT, phrases, wildcards, NEAR/n, fields, and errors."""

from __future__ import annotations

import pytest

from monitor.errors import RulesError
from monitor.match import parse_rules
from monitor.match.language import (
    And,
    ExpressionError,
    Lexicon,
    Near,
    Not,
    Or,
    Scoped,
    Term,
    parse,
)


def words(node: object) -> str:
    assert isinstance(node, Term)
    return node.words


def test_and_binds_tighter_than_or() -> None:
    node = parse("a OR b AND c")
    assert isinstance(node, Or)
    assert words(node.operands[0]) == "a"
    assert isinstance(node.operands[1], And)


def test_parentheses_override_precedence() -> None:
    node = parse("(a OR b) AND c")
    assert isinstance(node, And)
    assert isinstance(node.operands[0], Or)


def test_adjacent_terms_are_implicit_and() -> None:
    node = parse("border clash")
    assert isinstance(node, And)
    assert [words(n) for n in node.operands] == ["border", "clash"]


def test_not_binds_to_one_operand() -> None:
    node = parse("NOT a b")
    assert isinstance(node, And)
    assert isinstance(node.operands[0], Not)
    assert words(node.operands[1]) == "b"


def test_phrase_and_hyphenated_term_normalise_alike() -> None:
    assert words(parse('"Tehreek e Taliban"')) == words(parse("Tehreek-e-Taliban"))


def test_wildcard_inside_or_after_quotes() -> None:
    for expr in ("Waziristan*", '"air strike*"', '"air strike"*'):
        node = parse(expr)
        assert isinstance(node, Term) and node.prefix


def test_near_has_distance_and_binds_tighter_than_and() -> None:
    node = parse("x AND TTP NEAR/10 attack")
    assert isinstance(node, And)
    near = node.operands[1]
    assert isinstance(near, Near) and near.distance == 10


def test_field_scope_applies_to_group() -> None:
    node = parse("title:(a OR b) summary:c")
    assert isinstance(node, And)
    assert isinstance(node.operands[0], Scoped) and node.operands[0].field == "title"
    assert isinstance(node.operands[0].operand, Or)


def test_lexicon_reference() -> None:
    node = parse("@TTP")
    assert isinstance(node, Lexicon) and node.name == "ttp"


@pytest.mark.parametrize(
    ("expr", "position", "expected"),
    [
        ("(TTP OR attack", 14, "expected ')'"),
        ("TTP AND", 7, "expected a term"),
        ("TTP NEAR/ attack", 4, "NEAR/"),
        ('"Durand Line', 12, "expected '\"'"),
        ("Wazir*stan", 5, "'*' is allowed only at the end"),
        ("foo:bar", 0, "expected a field name"),
        ("a ) b", 2, "expected AND, OR"),
        ("(NOT a) NEAR/3 b", 8, "on both sides of NEAR"),
    ],
)
def test_syntax_errors_have_position_and_expectation(
    expr: str, position: int, expected: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(expr)
    assert info.value.position == position
    assert expected in info.value.problem


RULES = """
[lexicons]
ttp = ["TTP"]
[[rules]]
id = "ok"
topic = "ttp_militancy"
match = "@ttp"
[[rules]]
id = "broken"
topic = "border"
match = "{expr}"
"""


def test_rules_error_names_file_rule_position_and_expected() -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(RULES.format(expr="(Chaman OR Torkham"), "config/rules.toml")
    err = info.value
    assert (err.file, err.rule_id, err.position) == ("config/rules.toml", "broken", 18)
    assert "expected ')'" in str(err) and "at position 18" in str(err)


def test_unknown_lexicon_is_an_error_with_position() -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(RULES.format(expr="border AND @crossings"), "r.toml")
    assert info.value.rule_id == "broken" and info.value.position == 11
    assert "unknown lexicon '@crossings'" in info.value.problem


def test_error_in_exclude_names_the_key() -> None:
    text = RULES.format(expr="border") + 'exclude = "cricket OR"\n'
    with pytest.raises(RulesError) as info:
        parse_rules(text, "r.toml")
    assert "(in exclude)" in info.value.problem and info.value.position == 10


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('severity = "urgent"', "severity"),
        ('recipients = "a@example.org"', "recipients"),
        ('colour = "red"', "unknown keys"),
    ],
)
def test_invalid_rule_fields(extra: str, problem: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(RULES.format(expr="border") + extra + "\n", "r.toml")
    assert info.value.rule_id == "broken" and problem in info.value.problem


def test_duplicate_ids_and_bad_toml() -> None:
    with pytest.raises(RulesError, match="duplicate rule id"):
        parse_rules(RULES.format(expr="x").replace('"broken"', '"ok"'), "r.toml")
    with pytest.raises(RulesError, match="invalid TOML"):
        parse_rules("[[rules]\n", "r.toml")


def test_version_changes_with_expression_or_exclusion_only() -> None:
    def version(expr: str, exclude: str = "", topic: str = "border") -> str:
        text = RULES.format(expr=expr).replace('topic = "border"', f'topic = "{topic}"')
        if exclude:
            text += f'exclude = "{exclude}"\n'
        return parse_rules(text).rules[1].version

    base = version("Chaman")
    assert version("Chaman") == base
    assert version("Chaman OR Torkham") != base
    assert version("Chaman", exclude="cricket") != base
    assert version("Chaman", topic="trade_transit") == base
    assert len(base) == 10


def test_recipients_and_severity_are_kept() -> None:
    text = RULES.format(expr="x") + 'severity = "alert"\nrecipients = ["a@example.org"]\n'
    rule = parse_rules(text).rules[1]
    assert rule.severity == "alert" and rule.recipients == ("a@example.org",)
    assert parse_rules(text).rules[0].recipients == ()
