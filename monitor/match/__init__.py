"""Keyword rules: the rule language, the rules file, and the compiled matcher.

The pipeline calls `Matcher.from_file(path)` once and `matcher.match(item)` per item; see
docs/rules.md for the language and the file format. Pure: only `load_rules`/`from_file` read
a file.
"""

from monitor.match.matcher import Matchable, Matcher
from monitor.match.rulebook import Rule, RuleBook, load_rules, parse_rules, rule_version

__all__ = ["Matchable", "Matcher", "Rule", "RuleBook", "load_rules", "parse_rules", "rule_version"]
