"""The declared dependencies are exactly the imported ones, and private names are pinned.

The monitor reaches into private modules of feedparser, httpx and httpcore. Each of those
dependencies carries an upper bound in pyproject.toml, and the test below imports every
private name and checks what the code relies on, so that raising a bound is a decision made
with this test failing or passing, not a surprise in production.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import socket
import sys
import tomllib
from collections.abc import Callable

import pytest
from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


DECLARED = {_name(r): r for r in PYPROJECT["project"]["dependencies"]}


def imported_top_level_modules() -> set[str]:
    """Third-party modules the package imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for path in (ROOT / "monitor").rglob("*.py"):
        if "migrations" in path.relative_to(ROOT).parts:
            continue  # Alembic's scripts: alembic, sqlalchemy and sqlmodel, declared anyway
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "monitor"}


def test_every_imported_distribution_is_declared_and_every_declared_one_imported() -> None:
    owners = importlib.metadata.packages_distributions()
    imported = {
        owners[m][0].lower().replace("_", "-") for m in imported_top_level_modules() if m in owners
    }
    assert not {m for m in imported_top_level_modules() if m not in owners}, "unknown module"
    assert sorted(imported - DECLARED.keys()) == [], "imported but not declared"
    assert sorted(DECLARED.keys() - imported) == [], "declared but never imported"


def _upper_bound(requirement: str) -> tuple[int, ...]:
    found = re.search(r"<\s*([0-9][0-9.]*)", requirement)
    assert found, f"{requirement!r} has no upper bound, but the monitor uses private names of it"
    return tuple(int(x) for x in found[1].split("."))


def _installed(dist: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", importlib.metadata.version(dist))[:3])


def _httpx() -> None:
    from httpx._decoders import SUPPORTED_DECODERS  # monitor/fetch/headers.py

    # headers.KNOWN_ENCODINGS: the keys are the Content-Encoding names httpx can decode.
    assert {"identity", "gzip", "deflate"} <= set(SUPPORTED_DECODERS)


def _httpcore() -> None:
    import httpcore
    from httpcore._backends.anyio import AnyIOStream  # monitor/fetch/safety.py
    from httpcore._utils import is_socket_readable

    # safety._Stream subclasses AnyIOStream, builds it from one anyio stream, unwraps a TLS
    # stream through `_stream` and overrides get_extra_info and start_tls.
    assert issubclass(AnyIOStream, httpcore.AsyncNetworkStream)
    marker = object()
    assert AnyIOStream(marker)._stream is marker  # type: ignore[arg-type]
    assert callable(AnyIOStream.get_extra_info) and callable(AnyIOStream.start_tls)
    # is_socket_readable(sock): true once the peer has sent something (or hung up).
    a, b = socket.socketpair()
    with a, b:
        assert is_socket_readable(a) is False
        b.sendall(b"x")
        assert is_socket_readable(a) is True


def _feedparser() -> None:
    from feedparser import encodings  # monitor/fastparse.py
    from feedparser.html import _cp1252
    from feedparser.mixin import _FeedParserMixin

    # fastparse maps namespace URIs to feedparser's prefixes and reads its handler names.
    assert _FeedParserMixin.namespaces["http://purl.org/dc/elements/1.1/"] == "dc"
    assert hasattr(_FeedParserMixin, "_start_item") and hasattr(_FeedParserMixin, "_end_title")
    # The cp1252 table: code point of a C1 control -> the character cp1252 means by it.
    assert dict(_cp1252)[0x80] == "€"
    # None without chardet, else a function of the bytes: fastparse declines then.
    assert encodings.lazy_chardet_encoding is None or callable(encodings.lazy_chardet_encoding)


PRIVATE_USERS: dict[str, Callable[[], None]] = {
    "httpx": _httpx,
    "httpcore": _httpcore,
    "feedparser": _feedparser,
}


@pytest.mark.parametrize("dist", sorted(PRIVATE_USERS))
def test_private_names_used_are_there_under_a_tested_upper_bound(dist: str) -> None:
    assert dist in DECLARED, f"{dist} is used but not declared in pyproject.toml"
    assert _installed(dist) < _upper_bound(DECLARED[dist])
    PRIVATE_USERS[dist]()
