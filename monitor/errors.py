"""The one exception tree of Frontier Monitor.

Every error a user can meet is a `MonitorError`; subclasses carry the identity of what failed
(file and key, feed URL, rule id, recipient) so the message can say what to fix and where.
Per-feed failures during a pass are *results* (see `models.FetchResult`), not exceptions.
"""

from __future__ import annotations

from pathlib import Path


class MonitorError(Exception):
    """Base of every error Frontier Monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid: names the file, the key and what was expected."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


class RulesError(MonitorError):
    """A keyword rule is invalid: names the rules file, the rule and the position."""

    def __init__(self, file: str, rule_id: str, problem: str, position: int | None = None) -> None:
        self.file, self.rule_id, self.problem, self.position = file, rule_id, problem, position
        at = f" at position {position}" if position is not None else ""
        super().__init__(f"{file}: rule {rule_id!r}{at}: {problem}")


class LabelsError(MonitorError):
    """A labelled-items file is malformed: names the file, the line and, where one cell is
    at fault, its column (1-based), as compilers do: `labels.csv:3:7: problem`."""

    def __init__(self, path: str | Path, line: int, column: int | None, problem: str) -> None:
        self.path, self.line, self.column, self.problem = path, line, column, problem
        where = f"{path}:{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {problem}")


class FeedError(MonitorError):
    """A feed could not be fetched or parsed; `kind` is a short stable label for metrics."""

    def __init__(self, url: str, kind: str, message: str) -> None:
        self.url, self.kind, self.message = url, kind, message
        super().__init__(f"{url}: {message}")


class DatabaseError(MonitorError):
    """The database cannot be used as it is (unreachable, or its schema is behind)."""


class SchemaBehindError(DatabaseError):
    """The database schema is older than this version of Frontier Monitor expects."""

    def __init__(self, url: str, current: str | None, head: str) -> None:
        self.url, self.current, self.head = url, current, head
        super().__init__(
            f"database {url} is at schema {current or 'none (empty)'}, this version needs {head}: "
            "run `monitor db upgrade`"
        )


class DeliveryError(MonitorError):
    """A digest could not be delivered to a recipient; `permanent` separates 5xx from 4xx.

    `uncertain` means the server may have accepted it anyway (the connection was lost after
    the message was sent and before the reply), so a retry may duplicate it.
    """

    def __init__(
        self, recipient: str, message: str, *, permanent: bool, uncertain: bool = False
    ) -> None:
        self.recipient, self.message, self.permanent = recipient, message, permanent
        self.uncertain = uncertain
        super().__init__(f"{recipient}: {message}")


class FeedbackError(MonitorError):
    """An analyst's feedback cannot be applied as given (no such story or report, a report
    of another story, a split that would leave nothing): says which and why; nothing is
    stored."""


class QueryError(MonitorError):
    """A search query or filter that cannot be read; `position` is the 1-based character."""

    def __init__(self, problem: str, position: int | None = None, source: str = "q") -> None:
        self.problem, self.position, self.source = problem, position, source
        where = f"{source}, at character {position}" if position is not None else source
        super().__init__(f"{where}: {problem}")


class WebError(MonitorError):
    """The web view cannot start as asked (an address it refuses or cannot bind)."""


class LinkError(MonitorError):
    """A feedback link token that does not hold; `reason` is "forged" or "expired"."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
