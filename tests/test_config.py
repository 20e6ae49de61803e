"""Configuration: every error names the file, the key and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run, write_config

from monitor.errors import ConfigError
from monitor.settings import load_settings, redacted


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid_and_has_twenty_real_feeds() -> None:
    settings = load_settings(ROOT / "config" / "monitor.toml")
    assert len(settings.feeds) >= 20
    assert all(f.url.startswith("https://") and f.note for f in settings.feeds)
    assert {"en", "ur", "ps"} <= {f.language for f in settings.feeds}
    assert settings.digest.timezone == "Asia/Karachi"
    assert settings.smtp is None and settings.outbox == ROOT / "var" / "outbox"
    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'monitor.db'}"
    assert settings.rules_path == ROOT / "config" / "rules.toml"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[database]\nurl = 5\n", "database.url", "expected a string"),
        ("[database]\nurl = 'mysql://x'\n", "database.url", "sqlite:/// or postgresql://"),
        ("[[feeds]]\nname = 'x'\nurl = 'file:///etc/passwd'\n", "feeds[0].url", "http or https"),
        ("[[feeds]]\nname = 'x'\nurl = '/etc/passwd'\n", "feeds[0].url", "http or https"),
        ("[[feeds]]\nname = 'x'\nurl = 'javascript:alert(1)'\n", "feeds[0].url", "http or https"),
        ("[[feeds]]\nname = 'x'\n", "feeds[0].url", "missing"),
        (
            "[[feeds]]\nurl='https://a.example/f'\nname='a'\n[[feeds]]\nurl='https://b.example/f'\nname='a'\n",
            "feeds[1].name",
            "duplicate",
        ),
        ("[digest]\ntimezone = 'Mars/Olympus'\n", "digest.timezone", "IANA time zone"),
        ("[digest]\nsend_at = '7am'\n", "digest.send_at", "'07:00'"),
        (
            "[[digest.recipients]]\naddress = 'nobody'\n",
            "digest.recipients[0].address",
            "email address",
        ),
        ("[smtp]\nhost = 'h'\nsecurity = 'ssl'\n", "smtp.security", "'starttls', 'tls' or 'none'"),
        ("[fetch]\nconcurrency = 0\n", "fetch.concurrency", "positive"),
        ("[fetch]\nallow_networks = ['nope']\n", "fetch.allow_networks[0]", "network"),
        (
            "[[feeds]]\nname = 'x'\nurl = 'https://a.example/f'\nallow_networks = ['10.0.0.0/33']\n",
            "feeds[0].allow_networks[0]",
            "network",
        ),
        ("[fecth]\n", "fecth", "unknown key"),
    ],
)
def test_errors_name_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.key == key
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[database\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml")


def test_cli_reports_config_error_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[[feeds]]\nname = 'x'\nurl = 'ftp://example.org/feed'\n")
    result = run(path, "check")
    assert result.exit_code == 2
    assert "feeds[0].url" in result.output and "Traceback" not in result.output


def test_environment_overrides_and_redaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[smtp]\nhost = 'mail.example.org'\nusername = 'monitor'\n")
    monkeypatch.setenv("MONITOR_DATABASE_URL", "postgresql+psycopg://u:hunter2@db.example.org/m")
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret-pass")
    settings = load_settings(path)
    assert settings.database_url.endswith("@db.example.org/m")
    assert settings.smtp is not None and settings.smtp.password == "s3cret-pass"
    shown = run(path, "config", "show", "--json")
    assert shown.exit_code == 0
    assert "s3cret-pass" not in shown.output and "hunter2" not in shown.output
    assert '"password": "***"' in shown.output and "u:***@db.example.org" in shown.output
    assert redacted(settings)["smtp"]["password"] == "***"


def test_monitor_config_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    path = write_config(tmp_path, db_url=sqlite_url)
    monkeypatch.setenv("MONITOR_CONFIG", str(path))
    assert load_settings().path == path
    result = run(None, "config", "show")
    assert result.exit_code == 0 and sqlite_url in result.output


def test_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    monkeypatch.delenv("MONITOR_SMTP_PASSWORD", raising=False)
    settings = load_settings(write(tmp_path, f"[smtp]\nhost = 'h'\npassword_file = '{secret}'\n"))
    assert settings.smtp is not None and settings.smtp.password == "from-file"


def test_relative_paths_follow_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "pw").write_text("from-site-file\n")
    config = write(
        site,
        "[database]\nurl = 'sqlite:///var/monitor.db'\n[delivery]\noutbox = 'out'\n"
        "[daemon]\nlock_dir = 'locks'\n[smtp]\nhost = 'h'\npassword_file = 'pw'\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MONITOR_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("MONITOR_SMTP_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("MONITOR_CONFIG", "../site/monitor.toml")  # relative, too
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{site / 'var' / 'monitor.db'}"
    assert settings.outbox == site / "out"
    assert settings.daemon.lock_dir == str(site / "locks")
    assert settings.smtp is not None and settings.smtp.password == "from-site-file"
    # `db upgrade` from another directory migrates the site's database, not a new one here.
    upgraded = run(None, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert (site / "var" / "monitor.db").is_file() and not (elsewhere / "var").exists()
    assert load_settings(config).database_url == settings.database_url


def test_sqlite_urls_that_name_no_relative_file_are_kept(tmp_path: Path) -> None:
    for url in ("sqlite://", "sqlite:///:memory:", f"sqlite:///{tmp_path}/a.db"):
        assert load_settings(write(tmp_path, f"[database]\nurl = '{url}'\n")).database_url == url
    query = load_settings(write(tmp_path, "[database]\nurl = 'sqlite:///a.db?timeout=5'\n"))
    assert query.database_url == f"sqlite:///{tmp_path / 'a.db'}?timeout=5"


def test_config_is_found_in_xdg_config_home_then_etc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.settings as settings_module

    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no config/monitor.toml or monitor.toml here
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    system = tmp_path / "etc" / "frontier-monitor" / "monitor.toml"
    monkeypatch.setattr(settings_module, "SYSTEM_CONFIG", system)
    assert settings_module.config_candidates()[-2:] == (
        xdg / "frontier-monitor" / "monitor.toml",
        system,
    )
    system.parent.mkdir(parents=True)
    system.write_text("")
    assert settings_module.find_config() == system
    user = xdg / "frontier-monitor" / "monitor.toml"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert settings_module.find_config() == user  # the user's file before the system's
    (tmp_path / "monitor.toml").write_text("")
    assert settings_module.find_config() == Path("monitor.toml")  # today's places first


def test_config_show_says_where_each_value_came_from_and_hides_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[fetch]\nconcurrency = 3\n[smtp]\nhost = 'mail.example.org'\n")
    url = "postgresql+psycopg://:hunter2@db.example.org/m?sslmode=require&password=pw1&api_key=k2&authToken=t3"
    monkeypatch.setenv("MONITOR_DATABASE_URL", url)
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret-pass")
    shown = run(path, "config", "show")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "fetch.concurrency = 3  # file" in lines
    assert "fetch.per_host = 2  # default" in lines
    assert 'smtp.password = "***"  # environment (MONITOR_SMTP_PASSWORD)' in lines
    assert (
        'database.url = "postgresql+psycopg://:***@db.example.org/m?sslmode=require'
        '&password=***&api_key=***&authToken=***"  # environment (MONITOR_DATABASE_URL)'
    ) in lines
    for secret in ("hunter2", "pw1", "k2", "t3", "s3cret-pass"):
        assert secret not in shown.output
    as_json = json.loads(run(path, "config", "show", "--json").output)
    assert as_json["origins"]["fetch.concurrency"] == "file"
    assert as_json["origins"]["digest.from"] == "default"
    assert "hunter2" not in as_json["database_url"] and as_json["fetch"]["concurrency"] == 3
