"""Configuration: read once at start, typed and validated.

Owns the TOML schema of `monitor.toml`, the environment overrides (`MONITOR_CONFIG`,
`MONITOR_DATABASE_URL`, `MONITOR_SMTP_PASSWORD`, `MONITOR_SMTP_PASSWORD_FILE`) and the
redacted dump shown by `monitor config show`, with where each value came from. Every error
names the file, the key and what was expected. Relative paths in the file (rules, SQLite
database, outbox, lock directory, SMTP password file) are relative to the config file's
directory, wherever the command runs (docs/decisions.md).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.cluster.decide import ClusterSettings
from monitor.errors import ConfigError

T = TypeVar("T")

DEFAULT_CONFIG_CANDIDATES = (Path("config/monitor.toml"), Path("monitor.toml"))
SYSTEM_CONFIG = Path("/etc/frontier-monitor/monitor.toml")
USER_AGENT = "FrontierMonitor/0.1 (+https://github.com/frontier-monitor/frontier-monitor)"
SEVERITIES = ("digest", "alert")


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    language: str = "en"
    note: str = ""
    interval_minutes: int | None = None  # None: the [fetch] default
    allow_networks: tuple[str, ...] | None = None  # None: the [fetch] default


@dataclass(frozen=True)
class FetchConfig:
    allow_networks: tuple[str, ...] = ()
    interval_minutes: float = 30.0
    max_backoff_hours: float = 6.0
    concurrency: int = 8
    per_host: int = 2
    per_host_spacing_seconds: float = 0.5
    timeout_seconds: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    parse_workers: int = 0  # processes parsing feeds; 0: one per core but one
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class Recipient:
    address: str
    topics: tuple[str, ...] = ()  # empty: every topic
    min_severity: str = "digest"
    timezone: str | None = None  # None: the [digest] default
    send_at: str | None = None


@dataclass(frozen=True)
class DigestConfig:
    sender: str = "monitor@localhost"
    send_at: str = "07:00"
    timezone: str = "Asia/Karachi"
    recipients: tuple[Recipient, ...] = ()
    max_stories: int = 500
    alert_interval_minutes: int = 30  # at most one alert email per recipient in this time


@dataclass(frozen=True)
class DaemonConfig:
    poll_seconds: float = 60.0  # the poll tick; each tick polls the feeds that are due
    http: str | None = None  # "127.0.0.1:9464" serves /healthz and /metrics
    retention_days: int = 90  # items older than this are pruned (tombstones: twice that again)
    lock_dir: str | None = None  # where the single-daemon lock of a SQLite database lives
    lease_seconds: float = 600.0  # how long a claimed feed or digest stays with one daemon

    @property
    def http_address(self) -> tuple[str, int] | None:
        if not self.http:
            return None
        host, _, port = self.http.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class WebConfig:
    listen: str | None = None  # "127.0.0.1:8080": the daemon serves the desk (monitor.web)
    # The desk's address as recipients reach it: digests carry feedback links under it.
    base_url: str | None = None
    # Signs feedback links and the desk's forms (`secret`, or the text of `secret_file`).
    secret: str | None = field(default=None, repr=False)
    # Authentication (monitor.web.auth): users' argon2 hashes, or a trusted proxy's header.
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    proxy_header: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    public_feeds: bool = False  # the Atom and JSON feeds without sign-in


@dataclass(frozen=True)
class Settings:
    path: Path
    rules_path: Path
    database_url: str
    fetch: FetchConfig
    feeds: tuple[FeedConfig, ...]
    outbox: Path
    smtp: SmtpConfig | None
    digest: DigestConfig
    daemon: DaemonConfig = DaemonConfig()
    stories: ClusterSettings = field(default_factory=ClusterSettings)
    web: WebConfig = WebConfig()
    # Where values came from, for `monitor config show`: dotted TOML keys set in the file,
    # and keys set from the environment (key -> variable).
    file_keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    env_keys: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)

    def allow_networks(self, name: str) -> tuple[str, ...]:
        """The private networks feed `name` may be fetched from: its own, else [fetch]'s."""
        own = self.feed(name)
        if own is not None and own.allow_networks is not None:
            return own.allow_networks
        return self.fetch.allow_networks


def config_candidates() -> tuple[Path, ...]:
    """Where a config file is looked for without --config or $MONITOR_CONFIG, in order: the
    working directory's config/monitor.toml and monitor.toml, then the user's and the
    system's (XDG base directory specification)."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(xdg) / "frontier-monitor" / "monitor.toml"
    return (*DEFAULT_CONFIG_CANDIDATES, user, SYSTEM_CONFIG)


def find_config(explicit: str | Path | None = None) -> Path:
    """The config file to use: the option, else $MONITOR_CONFIG, else a default location."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("MONITOR_CONFIG")
    if env:
        return Path(env)
    for candidate in config_candidates():
        if candidate.is_file():
            return candidate
    return DEFAULT_CONFIG_CANDIDATES[0]


def load_settings(path: str | Path | None = None) -> Settings:
    """Read, validate and return the configuration; raise ConfigError naming file and key."""
    cfg_path = find_config(path)
    where = str(cfg_path)
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(where, "", "file not found (create one with `monitor init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(where, "", f"cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, "", f"not valid TOML: {exc}") from exc
    return _Reader(where, Path(os.path.abspath(cfg_path.parent))).settings(cfg_path, raw)


class _Reader:
    """Typed access to the parsed TOML that turns every mismatch into a ConfigError."""

    def __init__(self, file: str, base: Path = Path()) -> None:
        self.file = file
        self.base = base  # the config file's directory: relative paths start there
        self.env_keys: dict[str, str] = {}

    def path(self, value: str) -> Path:
        """A path from the file, relative to the config file's directory."""
        return Path(os.path.normpath(self.base / Path(value).expanduser()))

    def sqlite_url(self, url: str) -> str:
        """A SQLite URL with a relative file made relative to the config file's directory."""
        found = re.match(r"^(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?$", url)
        if not found or not found[2] or found[2] == ":memory:" or found[2].startswith("file:"):
            return url
        database = Path(found[2])
        if database.is_absolute():
            return url
        return f"{found[1]}{self.path(found[2])}{found[3] or ''}"

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def get(self, table: Mapping[str, Any], prefix: str, key: str, kind: type[T], default: T) -> T:
        value = table.get(key, default)
        full = f"{prefix}{key}"
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(full, f"expected {_kind_name(kind)}, got {value!r}")
        return value

    def table(self, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "expected a table")
        return value

    def check_keys(self, table: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                f"{prefix}{unknown[0]}",
                f"unknown key (expected one of: {', '.join(sorted(allowed))})",
            )

    def settings(self, cfg_path: Path, raw: dict[str, Any]) -> Settings:
        self.check_keys(
            raw,
            "",
            {"rules", "database", "fetch", "delivery", "smtp", "digest", "feeds", "daemon"}
            | {"stories", "web"},
        )
        rules = self.get(raw, "", "rules", str, "rules.toml")
        database = self.table(raw, "database")
        self.check_keys(database, "database.", {"url"})
        db_url = os.environ.get("MONITOR_DATABASE_URL")
        if db_url:  # as given: a value typed in a shell is relative to the shell's directory
            self.env_keys["database.url"] = "MONITOR_DATABASE_URL"
        else:
            db_url = self.sqlite_url(
                self.get(database, "database.", "url", str, "sqlite:///var/monitor.db")
            )
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", db_url):
            raise self.fail(
                "database.url", f"expected a sqlite:/// or postgresql:// URL, got {db_url!r}"
            )
        delivery = self.table(raw, "delivery")
        self.check_keys(delivery, "delivery.", {"outbox"})
        return Settings(
            path=cfg_path,
            rules_path=(cfg_path.parent / rules),
            database_url=db_url,
            fetch=self.fetch(self.table(raw, "fetch")),
            feeds=self.feeds(raw.get("feeds", [])),
            outbox=self.path(self.get(delivery, "delivery.", "outbox", str, "var/outbox")),
            smtp=self.smtp(raw["smtp"]) if "smtp" in raw else None,
            digest=self.digest(self.table(raw, "digest")),
            daemon=self.daemon(self.table(raw, "daemon")),
            stories=self.stories(self.table(raw, "stories")),
            web=self.web(self.table(raw, "web")),
            file_keys=frozenset(_dotted_keys(raw)),
            env_keys=self.env_keys,
        )

    def web(self, t: Mapping[str, Any]) -> WebConfig:
        """`[web]`: where the daemon serves the desk (a loopback address unless users or a
        proxy sign people in), the links' secret and address, and authentication."""
        from monitor.errors import WebError
        from monitor.web.server import parse_listen

        self.check_keys(
            t,
            "web.",
            {
                "listen",
                "base_url",
                "secret",
                "secret_file",
                "users",
                "proxy_header",
                "proxy_address",
                "public_feeds",
            },
        )
        users = t.get("users", {})
        if not isinstance(users, dict):
            raise self.fail("web.users", "expected a table of user = argon2 hash")
        for name, hashed in users.items():
            if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
                raise self.fail(
                    f"web.users.{name}",
                    f"expected an argon2 hash (from `monitor web passwd {name}`), not a password",
                )
        proxy_header = self.get(t, "web.", "proxy_header", str, "") or None
        proxy_raw = t.get("proxy_address", [])
        proxy = [proxy_raw] if isinstance(proxy_raw, str) else proxy_raw
        if not isinstance(proxy, list) or not all(isinstance(a, str) for a in proxy):
            raise self.fail(
                "web.proxy_address", f"expected an IP address or a list, got {proxy_raw!r}"
            )
        for address in proxy:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise self.fail(
                    "web.proxy_address", f"expected an IP address, got {address!r}"
                ) from None
        if proxy_header is not None and not proxy:
            raise self.fail(
                "web.proxy_header",
                "a proxy's user header is trusted only from the proxy: set [web] proxy_address",
            )
        public_feeds = self.get(t, "web.", "public_feeds", bool, False)
        listen = self.get(t, "web.", "listen", str, "") or None
        if listen is not None:
            try:
                parse_listen(listen, authenticated=bool(users or proxy_header))
            except WebError as exc:
                raise self.fail("web.listen", str(exc)) from None
        secret = self.get(t, "web.", "secret", str, "") or None
        secret_file = self.get(t, "web.", "secret_file", str, "")
        if secret is not None and secret_file:
            raise self.fail("web.secret_file", "set [web] secret or secret_file, not both")
        key = "web.secret"
        if secret_file:
            key, path = "web.secret_file", self.path(secret_file)
            try:
                secret = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise self.fail(key, f"cannot read {path}: {exc.strerror}") from exc
        if secret is not None and len(secret) < 32:
            raise self.fail(key, f"expected a secret of at least 32 characters, got {len(secret)}")
        base_url = self.get(t, "web.", "base_url", str, "") or None
        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
                raise self.fail(
                    "web.base_url",
                    f"expected the desk's http(s) address, like https://desk.example.org/, "
                    f"got {base_url!r}",
                )
            if secret is None:
                raise self.fail(
                    "web.base_url",
                    "digest feedback links are signed: set [web] secret or [web] secret_file "
                    "(at least 32 characters, e.g. from `openssl rand -base64 32`)",
                )
        return WebConfig(
            listen=listen,
            base_url=base_url,
            secret=secret,
            users=tuple(sorted(users.items())),
            proxy_header=proxy_header,
            proxy_addresses=tuple(proxy),
            public_feeds=public_feeds,
        )

    def stories(self, t: Mapping[str, Any]) -> ClusterSettings:
        """`[stories]`: the story clustering rule (monitor.cluster.decide.ClusterSettings)."""
        p = "stories."
        d = ClusterSettings()
        hours = ["window_hours", "grace_hours", "event_gap_hours", "event_span_hours"]
        hours += ["statement_gap_hours", "statement_span_hours", "occasion_hours"]
        hours += ["round_span_hours", "figure_hours"]
        shares = ["near_threshold", "story_containment", "number_conflict_factor"]
        shares += ["event_evidence"]
        self.check_keys(
            t,
            p,
            {*hours, *shares, "decay_per_day", "same_article_threshold", "updates", "events"}
            | {"figure_min"},
        )
        values: dict[str, Any] = {}
        for key in hours:
            values[key] = self.get(t, p, key, float, getattr(d, key))
            if values[key] <= 0:
                raise self.fail(p + key, "expected a positive number of hours")
        for key in shares:
            values[key] = self.get(t, p, key, float, getattr(d, key))
            if not 0 <= values[key] <= 1:
                raise self.fail(p + key, "expected a number from 0 to 1")
        values["figure_min"] = self.get(t, p, "figure_min", int, d.figure_min)
        if values["figure_min"] < 1:
            raise self.fail(p + "figure_min", "expected a whole number of 1 or more")
        values["decay_per_day"] = self.get(t, p, "decay_per_day", float, d.decay_per_day)
        if values["decay_per_day"] < 0:
            raise self.fail(p + "decay_per_day", "expected 0 or more")
        if "same_article_threshold" in t:
            same = self.get(t, p, "same_article_threshold", float, 0.0)
            if not 0 <= same <= 1:
                raise self.fail(p + "same_article_threshold", "expected a number from 0 to 1")
            values["same_article_threshold"] = same
        if values["grace_hours"] > values["window_hours"]:
            raise self.fail(p + "grace_hours", "expected no more than stories.window_hours")
        for key in ("event_span_hours", "statement_span_hours"):
            if values[key] > values["window_hours"]:
                raise self.fail(p + key, "expected no more than stories.window_hours")
        values["updates"] = self.get(t, p, "updates", bool, d.updates)
        values["events"] = self.get(t, p, "events", bool, d.events)
        return ClusterSettings(**values)

    def daemon(self, t: Mapping[str, Any]) -> DaemonConfig:
        p = "daemon."
        d = DaemonConfig()
        self.check_keys(t, p, {f.name for f in fields(DaemonConfig)})
        poll = self.get(t, p, "poll_seconds", float, d.poll_seconds)
        if poll <= 0:
            raise self.fail(p + "poll_seconds", "expected a positive number of seconds")
        http = self.get(t, p, "http", str, "") or None
        if http is not None and not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}", http):
            raise self.fail(p + "http", f"expected 'host:port' like '127.0.0.1:9464', got {http!r}")
        retention = self.get(t, p, "retention_days", int, d.retention_days)
        if retention < 1:
            raise self.fail(p + "retention_days", "expected a positive number of days")
        lock_dir = self.get(t, p, "lock_dir", str, "") or None
        if lock_dir is not None:
            lock_dir = str(self.path(lock_dir))
        lease = self.get(t, p, "lease_seconds", float, d.lease_seconds)
        if lease <= 0:
            raise self.fail(p + "lease_seconds", "expected a positive number of seconds")
        return DaemonConfig(
            poll_seconds=poll,
            http=http,
            retention_days=retention,
            lock_dir=lock_dir,
            lease_seconds=lease,
        )

    def fetch(self, t: Mapping[str, Any]) -> FetchConfig:
        p = "fetch."
        d = FetchConfig()
        self.check_keys(t, p, {f.name for f in fields(FetchConfig)})
        cfg = FetchConfig(
            allow_networks=self.networks(t, p, d.allow_networks),
            interval_minutes=self.get(t, p, "interval_minutes", float, d.interval_minutes),
            max_backoff_hours=self.get(t, p, "max_backoff_hours", float, d.max_backoff_hours),
            concurrency=self.get(t, p, "concurrency", int, d.concurrency),
            per_host=self.get(t, p, "per_host", int, d.per_host),
            per_host_spacing_seconds=self.get(
                t, p, "per_host_spacing_seconds", float, d.per_host_spacing_seconds
            ),
            timeout_seconds=self.get(t, p, "timeout_seconds", float, d.timeout_seconds),
            max_bytes=self.get(t, p, "max_bytes", int, d.max_bytes),
            max_redirects=self.get(t, p, "max_redirects", int, d.max_redirects),
            parse_workers=self.get(t, p, "parse_workers", int, d.parse_workers),
            user_agent=self.get(t, p, "user_agent", str, d.user_agent),
        )
        if cfg.interval_minutes <= 0:
            raise self.fail(p + "interval_minutes", "expected a positive number of minutes")
        for key in ("concurrency", "per_host", "max_bytes"):
            if getattr(cfg, key) < 1:
                raise self.fail(p + key, "expected a positive number")
        if cfg.per_host_spacing_seconds < 0:
            raise self.fail(p + "per_host_spacing_seconds", "expected zero or more seconds")
        for key in ("max_redirects", "parse_workers"):
            if getattr(cfg, key) < 0:
                raise self.fail(p + key, "expected zero or more")
        if cfg.timeout_seconds <= 0:
            raise self.fail(p + "timeout_seconds", "expected a positive number of seconds")
        return cfg

    def networks(self, t: Mapping[str, Any], p: str, default: tuple[str, ...]) -> tuple[str, ...]:
        nets = self.get(t, p, "allow_networks", list, list(default))
        for i, net in enumerate(nets):
            try:
                ipaddress.ip_network(net, strict=False)
            except (ValueError, TypeError):
                raise self.fail(
                    f"{p}allow_networks[{i}]",
                    f"expected a network like '127.0.0.1/32', got {net!r}",
                ) from None
        return tuple(nets)

    def feeds(self, raw: Any) -> tuple[FeedConfig, ...]:
        if not isinstance(raw, list):
            raise self.fail("feeds", "expected an array of tables ([[feeds]])")
        out: list[FeedConfig] = []
        seen: dict[str, int] = {}
        for i, t in enumerate(raw):
            p = f"feeds[{i}]."
            if not isinstance(t, dict):
                raise self.fail(f"feeds[{i}]", "expected a table")
            self.check_keys(
                t, p, {"name", "url", "language", "note", "interval_minutes", "allow_networks"}
            )
            if "url" not in t:
                raise self.fail(p + "url", "missing (every feed needs a url)")
            url = self.get(t, p, "url", str, "")
            problem = feed_url_problem(url)
            if problem:
                raise self.fail(p + "url", problem)
            name = self.get(t, p, "name", str, url)
            if name in seen:
                raise self.fail(
                    p + "name", f"duplicate feed name {name!r} (also feeds[{seen[name]}])"
                )
            seen[name] = i
            interval = t.get("interval_minutes")
            if interval is not None and (not isinstance(interval, int) or interval < 1):
                raise self.fail(
                    p + "interval_minutes", f"expected a positive integer, got {interval!r}"
                )
            out.append(
                FeedConfig(
                    name=name,
                    url=url,
                    language=self.get(t, p, "language", str, "en"),
                    note=self.get(t, p, "note", str, ""),
                    interval_minutes=interval,
                    allow_networks=(self.networks(t, p, ()) if "allow_networks" in t else None),
                )
            )
        return tuple(out)

    def smtp(self, t: Any) -> SmtpConfig:
        p = "smtp."
        if not isinstance(t, dict):
            raise self.fail("smtp", "expected a table")
        self.check_keys(
            t, p, {"host", "port", "security", "username", "password_file", "timeout_seconds"}
        )
        if "host" not in t:
            raise self.fail(p + "host", "missing (the SMTP server's host name)")
        security = self.get(t, p, "security", str, "starttls")
        if security not in ("starttls", "tls", "none"):
            raise self.fail(
                p + "security", f"expected 'starttls', 'tls' or 'none', got {security!r}"
            )
        password = os.environ.get("MONITOR_SMTP_PASSWORD")
        password_file: str | Path | None = os.environ.get("MONITOR_SMTP_PASSWORD_FILE")
        if password is not None:
            self.env_keys["smtp.password"] = "MONITOR_SMTP_PASSWORD"
        elif password_file:
            self.env_keys["smtp.password"] = "MONITOR_SMTP_PASSWORD_FILE"
        elif t.get("password_file"):
            password_file = self.path(self.get(t, p, "password_file", str, ""))
        if password is None and password_file:
            try:
                password = Path(password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise self.fail(
                    p + "password_file", f"cannot read {password_file}: {exc.strerror}"
                ) from exc
        port = self.get(t, p, "port", int, 465 if security == "tls" else 587)
        if not 0 < port < 65536:
            raise self.fail(p + "port", f"expected a TCP port, got {port}")
        return SmtpConfig(
            host=self.get(t, p, "host", str, ""),
            port=port,
            security=security,
            username=self.get(t, p, "username", str, "") or None,
            password=password,
            timeout_seconds=self.get(t, p, "timeout_seconds", float, 30.0),
        )

    def digest(self, t: Mapping[str, Any]) -> DigestConfig:
        p = "digest."
        self.check_keys(
            t,
            p,
            {"from", "send_at", "timezone", "recipients", "max_stories", "alert_interval_minutes"},
        )
        sender = self.get(t, p, "from", str, DigestConfig.sender)
        if not _looks_like_address(sender):
            raise self.fail(p + "from", f"expected an email address, got {sender!r}")
        send_at = self.send_at(p + "send_at", self.get(t, p, "send_at", str, DigestConfig.send_at))
        tz = self.timezone(p + "timezone", self.get(t, p, "timezone", str, DigestConfig.timezone))
        rlist = self.get(t, p, "recipients", list, [])
        recipients = tuple(self.recipient(f"{p}recipients[{i}].", r) for i, r in enumerate(rlist))
        max_stories = self.get(t, p, "max_stories", int, DigestConfig.max_stories)
        if max_stories < 1:
            raise self.fail(p + "max_stories", "expected a positive number")
        interval = self.get(
            t, p, "alert_interval_minutes", int, DigestConfig.alert_interval_minutes
        )
        if interval < 0:
            raise self.fail(p + "alert_interval_minutes", "expected 0 or more minutes")
        return DigestConfig(sender, send_at, tz, recipients, max_stories, interval)

    def recipient(self, p: str, t: Any) -> Recipient:
        if not isinstance(t, dict):
            raise self.fail(p.rstrip("."), "expected a table")
        self.check_keys(t, p, {"address", "topics", "min_severity", "timezone", "send_at"})
        address = self.get(t, p, "address", str, "")
        if not _looks_like_address(address):
            raise self.fail(p + "address", f"expected an email address, got {address!r}")
        topics = self.get(t, p, "topics", list, [])
        if not all(isinstance(x, str) for x in topics):
            raise self.fail(p + "topics", "expected a list of topic names")
        severity = self.get(t, p, "min_severity", str, "digest")
        if severity not in SEVERITIES:
            raise self.fail(p + "min_severity", f"expected 'digest' or 'alert', got {severity!r}")
        tz = t.get("timezone")
        send_at = t.get("send_at")
        return Recipient(
            address=address,
            topics=tuple(topics),
            min_severity=severity,
            timezone=self.timezone(p + "timezone", tz) if tz is not None else None,
            send_at=self.send_at(p + "send_at", send_at) if send_at is not None else None,
        )

    def send_at(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise self.fail(key, f"expected a time like '07:00', got {value!r}")
        return value

    def timezone(self, key: str, value: Any) -> str:
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                key, f"expected an IANA time zone like 'Asia/Karachi', got {value!r}"
            ) from None
        return str(value)


_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def feed_url_problem(url: str) -> str | None:
    """Why `url` cannot be a feed URL (only absolute http/https URLs with a host), or None."""
    if _SPACE_OR_CONTROL.search(url.strip()):
        return f"expected an http or https URL without spaces or control characters, got {url!r}"
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:  # e.g. "Port out of range 0-65535"
        return f"expected an http or https URL, got {url!r} ({str(exc).lower()})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"expected an http or https URL, got {url!r}"
    if not parts.hostname:
        return f"expected an http or https URL with a host name, got {url!r}"
    return None


def _looks_like_address(value: str) -> bool:
    return bool(re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+", value))


def _kind_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "an array",
        bool: "true or false",
    }.get(kind, kind.__name__)


def _dotted_keys(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every key of a TOML document as `table.key`, down through tables (not arrays)."""
    keys: list[str] = []
    for key, value in table.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += _dotted_keys(value, f"{prefix}{key}.")
    return keys


_BOOKKEEPING = {"file_keys", "env_keys"}


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, with secrets replaced by '***'."""

    def plain(obj: Any) -> Any:
        if is_dataclass(obj) and not isinstance(obj, type):
            out = {}
            for f in fields(obj):
                if f.name in _BOOKKEEPING:
                    continue
                value = getattr(obj, f.name)
                if f.name in ("password", "secret"):
                    value = "***" if value else None
                elif f.name == "users":  # names are shown, hashes are not
                    value = [name for name, _ in value]
                out[f.name] = plain(value)
            return out
        if isinstance(obj, tuple | list):
            return [plain(x) for x in obj]
        if isinstance(obj, Path):
            return str(obj)
        return obj

    data = plain(settings)
    data["database_url"] = redact_url(settings.database_url)
    return data  # type: ignore[no-any-return]


# Field names of Settings whose TOML key differs; the others are their own key.
_TOML_KEYS = {
    "rules_path": "rules",
    "database_url": "database.url",
    "outbox": "delivery.outbox",
    "digest.sender": "digest.from",
}


def described(settings: Settings) -> list[tuple[str, Any, str]]:
    """(TOML key, redacted value, origin) for every setting; origin is "file", "environment
    (VARIABLE)" or "default". Arrays of tables (feeds, recipients) are one row each."""
    rows: list[tuple[str, Any, str]] = []

    def origin(key: str) -> str:
        if key in settings.env_keys:
            return f"environment ({settings.env_keys[key]})"
        if key == "smtp.password" and "smtp.password_file" in settings.file_keys:
            return "file (smtp.password_file)"
        return "file" if key in settings.file_keys else "default"

    def walk(data: dict[str, Any], prefix: str) -> None:
        for name, value in data.items():
            key = _TOML_KEYS.get(prefix + name, prefix + name)
            if isinstance(value, dict):
                walk(value, key + ".")
            else:
                rows.append((key, value, origin(key)))

    data = redacted(settings)
    del data["path"]
    walk(data, "")
    return rows


_SECRET_PARAM = re.compile(r"([?&;][^=&#;]*(?:pass|secret|token|key|auth)[^=&#;]*=)[^&#;]*", re.I)


def redact_url(url: str) -> str:
    """A URL with any credential replaced by '***': the password of its user information
    (as SQLAlchemy reads it: up to the first '@', an empty user name too) and the values of
    query parameters named like a secret (password, passwd, secret, token, key, api_key,
    apikey, auth, ...)."""
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url, count=1)
    return _SECRET_PARAM.sub(r"\1***", url)
