"""The rule expression language: tokenizer, parser and syntax tree.

This module owns the grammar documented in docs/rules.md. It knows nothing of files or rule
ids; it raises `ExpressionError(problem, position)` with a 0-based character position, and the
rules loader turns that into a `RulesError` naming the file and the rule.

Grammar, loosest binding first (adjacent operands are an implicit AND)::

    or    := and ("OR" and)*
    and   := near (["AND"] near)*
    near  := unary ("NEAR/" n unary)*
    unary := "NOT" unary | primary
    primary := "(" or ")" | FIELD ":" primary | WORD["*"] | '"' phrase '"'["*"] | "@" name
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.match.textnorm import normalize_term

FIELDS = ("title", "summary", "source", "lang")
_OPERATORS = ("AND", "OR", "NOT")
_NAME = re.compile(r"[A-Za-z0-9_]+")
_NEAR = re.compile(r"NEAR/(\d+)$")


class ExpressionError(Exception):
    """A syntax error in one expression, at a 0-based character position."""

    def __init__(self, problem: str, position: int) -> None:
        self.problem, self.position = problem, position
        super().__init__(f"{problem} at position {position}")


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase, normalised (words joined by one space); `prefix` for a trailing '*'."""

    words: str
    prefix: bool
    source: str
    pos: int


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A reference to a named term group, `@name`."""

    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    """Both sides match in the same field with at most `distance` words between them."""

    left: Node
    right: Node
    distance: int
    pos: int


@dataclass(frozen=True, slots=True)
class Scoped:
    """The operand matched only in one field: title, summary, source or lang."""

    field: str
    operand: Node


Node = Term | Lexicon | Not | And | Or | Near | Scoped


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "(", ")", AND, OR, NOT, NEAR, FIELD, LEX, TERM, END
    value: str
    pos: int
    prefix: bool = False
    number: int = 0


def _describe(tok: Token) -> str:
    return "end of expression" if tok.kind == "END" else repr(tok.value)


def tokenize(expr: str) -> list[Token]:
    """Split an expression into tokens; raises ExpressionError on malformed ones."""
    tokens: list[Token] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch == '"':
            close = expr.find('"', i + 1)
            if close < 0:
                raise ExpressionError(f"expected '\"' to close the phrase opened at {i}", n)
            # The wildcard may sit inside or right after the quotes: "air strike*" or "air strike"*
            body = expr[i + 1 : close]
            outside = close + 1 < n and expr[close + 1] == "*"
            inside = body.endswith("*")
            tokens.append(_term_token(body[:-1] if inside else body, i, inside or outside))
            i = close + (2 if outside else 1)
        elif ch == "@":
            m = _NAME.match(expr, i + 1)
            if not m:
                raise ExpressionError("expected a lexicon name after '@'", i + 1)
            tokens.append(Token("LEX", m.group().lower(), i))
            i = m.end()
        else:
            j = i
            while j < n and not expr[j].isspace() and expr[j] not in '()"':
                j += 1
            i = _word_tokens(expr[i:j], i, tokens)
    tokens.append(Token("END", "", n))
    return tokens


def _word_tokens(word: str, pos: int, tokens: list[Token]) -> int:
    """Append the token(s) of one bare word; returns the position to continue from."""
    if word in _OPERATORS:
        tokens.append(Token(word, word, pos))
        return pos + len(word)
    if word.startswith("NEAR"):
        m = _NEAR.match(word)
        if not m:
            raise ExpressionError("expected a number of words after 'NEAR/' (e.g. NEAR/10)", pos)
        tokens.append(Token("NEAR", word, pos, number=int(m.group(1))))
        return pos + len(word)
    colon = word.find(":")
    if colon > 0 and word[:colon].isalpha():
        field = word[:colon].lower()
        if field not in FIELDS:
            raise ExpressionError(
                f"expected a field name ({', '.join(FIELDS)}) before ':', found {word[:colon]!r}",
                pos,
            )
        tokens.append(Token("FIELD", field, pos))
        return pos + colon + 1  # the rest of the word is tokenised on its own
    prefix = word.endswith("*")
    tokens.append(_term_token(word[:-1] if prefix else word, pos, prefix))
    return pos + len(word)


def _term_token(text: str, pos: int, prefix: bool) -> Token:
    if "*" in text:
        raise ExpressionError("'*' is allowed only at the end of a term", pos + text.index("*"))
    if not normalize_term(text):
        raise ExpressionError(f"expected a term with letters or digits, found {text!r}", pos)
    return Token("TERM", text, pos, prefix=prefix)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.tokens = tokenize(expr)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise ExpressionError("expected an expression, found nothing", 0)
        node = self.or_()
        if self.tok.kind != "END":
            raise ExpressionError(
                f"expected AND, OR, NEAR/n or end of expression, found {_describe(self.tok)}",
                self.tok.pos,
            )
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.tok.kind == "OR":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.near()]
        while True:
            if self.tok.kind == "AND":
                self.take()
            elif self.tok.kind not in ("(", "NOT", "FIELD", "LEX", "TERM"):
                break
            items.append(self.near())
        return items[0] if len(items) == 1 else And(tuple(items))

    def near(self) -> Node:
        node = self.unary()
        while self.tok.kind == "NEAR":
            op = self.take()
            right = self.unary()
            for side in (node, right):
                if not spans_only(side):
                    raise ExpressionError(
                        "expected terms, phrases, @lexicons or OR of them on both sides of NEAR",
                        op.pos,
                    )
            node = Near(node, right, op.number, op.pos)
        return node

    def unary(self) -> Node:
        if self.tok.kind == "NOT":
            self.take()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "(":
            node = self.or_()
            if self.tok.kind != ")":
                raise ExpressionError(f"expected ')', found {_describe(self.tok)}", self.tok.pos)
            self.take()
            return node
        if tok.kind == "FIELD":
            return Scoped(tok.value, self.primary())
        if tok.kind == "LEX":
            return Lexicon(tok.value, tok.pos)
        if tok.kind == "TERM":
            return Term(normalize_term(tok.value), tok.prefix, tok.value, tok.pos)
        raise ExpressionError(
            f"expected a term, phrase, @lexicon, NOT or '(', found {_describe(tok)}", tok.pos
        )


def spans_only(node: Node) -> bool:
    """True when the node is made of terms only (no AND/NOT), so it yields positions."""
    if isinstance(node, Term | Lexicon):
        return True
    if isinstance(node, Or):
        return all(spans_only(n) for n in node.operands)
    if isinstance(node, Scoped):
        return spans_only(node.operand)
    return False


def parse(expr: str) -> Node:
    """Parse one rule expression into a syntax tree; raises ExpressionError."""
    return _Parser(expr).parse()


def lexicons_used(node: Node) -> list[Lexicon]:
    """Every @lexicon reference in the tree, in order."""
    if isinstance(node, Lexicon):
        return [node]
    if isinstance(node, Not | Scoped):
        return lexicons_used(node.operand)
    if isinstance(node, And | Or):
        return [lex for n in node.operands for lex in lexicons_used(n)]
    if isinstance(node, Near):
        return lexicons_used(node.left) + lexicons_used(node.right)
    return []
