"""The wheel, installed as pipx or a container would install it, works outside the checkout.

Builds the wheel from a copy of only what packaging reads (pyproject.toml, README.md,
monitor/, alembic/, config/), installs it into a fresh venv without the network, and runs
the commands a new user runs first, from a directory outside the checkout. The venv finds
the third-party dependencies through a .pth line naming this environment's site-packages
(docs/decisions.md); the project itself comes only from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import ROOT
from servers import FeedServer

PACKAGED = ("pyproject.toml", "README.md", "monitor", "alembic", "config")


def sh(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; fail the test with its output unless it exits 0."""
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh venv holding the wheel built from this working tree."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in PACKAGED:
        if (ROOT / name).is_dir():
            # The links of monitor/ (to alembic/ and config/) stay links, as in a checkout.
            shutil.copytree(
                ROOT / name,
                src / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = work / "dist"
    # No build isolation: setuptools comes from this environment (the dev extra), not the index.
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
       "-w", dist, src, cwd=work)  # fmt: skip
    (wheel,) = dist.glob("frontier_monitor-*.whl")

    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    fresh_python = env_dir / "bin" / "python"
    fresh_site = Path(
        sh(
            fresh_python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work
        ).strip()
    )
    # Dependencies: this environment's site-packages, as a plain path entry. Its own .pth
    # files (the editable install of the checkout among them) are not processed from there.
    (fresh_site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    sh(sys.executable, "-m", "pip", "--python", fresh_python, "install", "-q", "--no-index",
       "--no-deps", wheel, cwd=work)  # fmt: skip
    return env_dir / "bin"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "PYTHON"))}
    return env


def test_the_installed_wheel_imports_from_the_venv_not_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    where = sh(installed / "python", "-c", "import monitor; print(monitor.__file__)",
               cwd=tmp_path, env=clean_env())  # fmt: skip
    assert Path(where.strip()).is_relative_to(installed.parent)
    assert not Path(where.strip()).resolve().is_relative_to(ROOT)
    assert sh(installed / "monitor", "--version", cwd=tmp_path, env=clean_env()).startswith(
        "monitor, version 0.1.0"
    )


def test_a_new_user_can_init_migrate_and_check_from_the_wheel(
    installed: Path, tmp_path: Path
) -> None:
    monitor = installed / "monitor"
    env = clean_env()
    out = sh(monitor, "init", "site", cwd=tmp_path, env=env)
    site = tmp_path / "site"
    assert "database" in out and (site / "var" / "monitor.db").is_file()
    shipped = (ROOT / "config" / "rules.toml").read_text("utf-8")
    assert (site / "rules.toml").read_text("utf-8") == shipped

    server = FeedServer()
    try:
        url = server.feed("/dawn.xml", (ROOT / "seeds" / "feeds" / "dawn.rss.xml").read_bytes())
        config = (site / "monitor.toml").read_text("utf-8")
        config = config.replace("allow_networks = []", 'allow_networks = ["127.0.0.1/32"]')
        config = config.replace("https://www.dawn.com/feeds/pakistan", url)
        (site / "monitor.toml").write_text(config, "utf-8")
        env["MONITOR_CONFIG"] = str(site / "monitor.toml")
        # From the directory above the site: relative paths follow the config file.
        assert "-> " in sh(monitor, "db", "upgrade", cwd=tmp_path, env=env)
        checked = sh(monitor, "check", "--dry-run", cwd=tmp_path, env=env)
    finally:
        server.close()
    assert server.hits["/dawn.xml"] == 1
    assert "feeds polled: 1," in checked and "failures: 0" in checked, checked
    assert "dry run: nothing stored" in checked, checked  # the recorded feed has matches
    assert not (tmp_path / "var").exists()
