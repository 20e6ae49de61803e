"""faults.md cases 5–12: hostile HTTP servers, private addresses and refused URL schemes."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RELEVANT_RSS, run, write_config
from fetchutil import fetch, scalar
from hostile import flat_gzip_bomb
from servers import BlackholePort, FeedServer, HangServer, Response

from monitor.errors import ConfigError
from monitor.fetch import address_problem
from monitor.settings import feed_url_problem, load_settings
from monitor.store import Store

MiB = 1024 * 1024
RSS_TYPE = {"Content-Type": "application/rss+xml"}


def gzip_bomb(inflated: int) -> Iterator[bytes]:
    """A gzip stream of `inflated` zero bytes, compressed while it is sent (~1000:1)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    for _ in range(inflated // MiB):
        chunk = comp.compress(zeros)
        if chunk:
            yield chunk
    yield comp.flush()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_gzip_bomb_stops_at_the_decoded_cap(feed_server: FeedServer) -> None:  # case 5
    url = feed_server.route(
        "/bomb.xml",
        Response(
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
            stream=lambda: gzip_bomb(10 * 1024 * MiB),
        ),
    )
    before = peak_rss_mib()
    started = time.monotonic()
    result = fetch(url)
    assert result.error_kind == "too_large" and "response too large" in (result.error or "")
    assert time.monotonic() - started < 20
    assert peak_rss_mib() - before < 256
    assert feed_server.sent["/bomb.xml"] < 1 * 1024 * MiB  # far less than the 10 MB bomb


PEAK_MEMORY_OF_A_FETCH = """
import asyncio, sys
from monitor.fetch import fetch_all
from monitor.models import FeedState
from monitor.settings import FetchConfig

def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

def fetch(url):
    cfg = FetchConfig(allow_networks=("127.0.0.1/32",), per_host_spacing_seconds=0)
    return asyncio.run(fetch_all([FeedState(id=1, name="t", url=url, language="en")], cfg))[0]

good, bomb = sys.argv[1:]
assert fetch(good).ok  # the client, its TLS context and the event loop, before measuring
before = peak_kib()
result = fetch(bomb)
print(result.error_kind, (peak_kib() - before) // 1024, result.error, sep="\\n")
"""


def test_a_gzip_bomb_read_in_large_pieces_stays_small_in_memory(feed_server: FeedServer) -> None:
    bomb = flat_gzip_bomb(1024)  # about 1 MB, 1 GiB inflated; sent whole, read 64 KiB at a time
    assert len(bomb) < 1.1 * MiB
    url = feed_server.route(
        "/bomb.xml", Response(200, bomb, {"Content-Encoding": "gzip", **RSS_TYPE})
    )
    good = feed_server.feed("/good.xml", RELEVANT_RSS)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_OF_A_FETCH, good, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    kind, grown_mib, error = done.stdout.splitlines()
    assert kind == "too_large" and error == "response too large: over the cap of 10485760 bytes"
    # The body is capped at 10 MiB; one 64 KiB read inflated whole would be some 64 MiB.
    assert int(grown_mib) < 40, grown_mib


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw deflate"])
def test_compressed_bodies_are_decoded(feed_server: FeedServer, coding: str) -> None:
    wbits = {"gzip": 31, "deflate": 15, "raw deflate": -15}[coding]
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = comp.compress(RELEVANT_RSS * 100) + comp.flush()
    header = coding.split()[-1]
    url = feed_server.route("/c.xml", Response(200, body, {"Content-Encoding": header}))
    result = fetch(url)
    assert result.ok and result.body == RELEVANT_RSS * 100


def test_a_corrupt_gzip_body_is_a_decoding_failure(feed_server: FeedServer) -> None:
    body = zlib.compress(RELEVANT_RSS)[:2] + b"\xff" * 64  # a zlib header, then garbage
    url = feed_server.route("/c.xml", Response(200, body, {"Content-Encoding": "gzip"}))
    result = fetch(url)
    assert result.error_kind == "decoding", result.error
    assert (result.error or "").startswith("the body could not be decompressed")


@pytest.mark.parametrize("encoding", ["gzip, gzip, gzip", "x-foo", "gzip, identity, br"])
def test_stacked_or_unknown_encoding_is_refused(feed_server: FeedServer, encoding: str) -> None:
    url = feed_server.route(  # case 6
        "/enc.xml", Response(200, zlib.compress(RELEVANT_RSS), {"Content-Encoding": encoding})
    )
    result = fetch(url)
    assert result.error_kind == "encoding"
    assert "Content-Encoding refused" in (result.error or "")


@pytest.mark.parametrize("declared", [True, False])
def test_huge_body_is_cut_at_the_cap(feed_server: FeedServer, declared: bool) -> None:  # case 7
    size = 500 * MiB
    headers = {"Content-Length": str(size)} if declared else {}
    url = feed_server.route(
        "/huge.xml",
        Response(headers=headers, stream=lambda: (b"x" * 65536 for _ in range(size // 65536))),
    )
    result = fetch(url)
    assert "response too large" in (result.error or "")
    deadline = time.monotonic() + 10
    while not feed_server.aborted["/huge.xml"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed_server.aborted["/huge.xml"], "the connection was not closed"
    assert feed_server.sent["/huge.xml"] < 100 * MiB


def test_slow_drip_hits_the_total_deadline_and_the_pass_goes_on(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:  # case 8
    drip = feed_server.route(
        "/drip.xml", Response(stream=lambda: (b"<" for _ in range(1000)), drip=0.5)
    )
    good = feed_server.feed("/good.xml", RELEVANT_RSS)
    config = write_config(
        tmp_path,
        db_url=sqlite_url,
        feeds=[("drip", drip), ("good", good)],
        fetch="timeout_seconds = 3",
    )
    started = time.monotonic()
    result = run(config, "check")
    assert time.monotonic() - started < 8
    assert "no complete response within 3 s" in result.output
    assert scalar(sqlite_url, "SELECT count(*) FROM item") == 3


def test_silent_servers_time_out_and_back_off(tmp_path: Path, sqlite_url: str) -> None:  # case 9
    hang, hole = HangServer(), BlackholePort()
    try:
        config = write_config(
            tmp_path,
            db_url=sqlite_url,
            feeds=[
                ("hang", f"http://127.0.0.1:{hang.port}/f.xml"),
                ("hole", f"http://127.0.0.1:{hole.port}/f.xml"),
            ],
            fetch="timeout_seconds = 2",
        )
        started = time.monotonic()
        result = run(config, "check")
        assert result.exit_code == 0 and "failures: 2" in result.output
        assert time.monotonic() - started < 8
        assert scalar(sqlite_url, "SELECT min(error_streak) FROM feed") == 1
        assert scalar(sqlite_url, "SELECT count(*) FROM feed WHERE next_check IS NULL") == 0
        assert "feeds polled: 0" in run(config, "check").output  # backing off
    finally:
        hang.close()
        hole.close()


def test_redirect_loop_and_long_chain_stop_at_the_cap(feed_server: FeedServer) -> None:
    feed_server.route("/loop", Response(302, headers={"Location": "/loop"}))  # case 10
    for i in range(30):
        feed_server.route(f"/chain{i}", Response(301, headers={"Location": f"/chain{i + 1}"}))
    for path in ("/loop", "/chain0"):
        result = fetch(feed_server.url(path))
        assert result.error_kind == "redirect"
        assert "too many redirects (more than 5)" in (result.error or "")
    assert feed_server.hits["/loop"] == 6 and feed_server.hits["/chain6"] == 0


# -- case 11: private addresses, refused at connect time after DNS resolution ------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("64:ff9b::7f00:1", "loopback"),
    ],
)
def test_address_policy(address: str, problem: str) -> None:
    assert problem in (address_problem(address) or "")


def test_public_and_allowlisted_addresses_pass() -> None:
    import ipaddress

    assert address_problem("93.184.216.34") is None
    assert address_problem("2606:2800:220:1::") is None
    allow = [ipaddress.ip_network("127.0.0.1/32")]
    assert address_problem("127.0.0.1", allow) is None
    assert address_problem("::ffff:127.0.0.1", allow) is None
    assert address_problem("127.0.0.2", allow) is not None


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "0.0.0.0", "[::1]"]
)
def test_private_feed_url_is_refused_without_allowlist(feed_server: FeedServer, host: str) -> None:
    url = f"http://{host}:{feed_server.port}/f.xml"
    feed_server.feed("/f.xml", RELEVANT_RSS)
    result = fetch(url, allow=())
    assert result.error_kind == "refused", result.error
    assert "refused to connect" in (result.error or "")
    assert feed_server.hits["/f.xml"] == 0


def test_hostname_is_checked_after_resolution(feed_server: FeedServer) -> None:
    # "localhost" is not an IP literal: it passes only because it resolves into the allowlist.
    feed_server.feed("/f.xml", RELEVANT_RSS)
    result = fetch(f"http://localhost:{feed_server.port}/f.xml", allow=("127.0.0.1/32", "::1/128"))
    assert result.ok and result.body == RELEVANT_RSS


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/inner",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.2]:{port}/inner",
        "http://0.0.0.0:{port}/inner",
        "http://100.64.0.1/",
        "http://[::1]:{port}/inner",
    ],
)
def test_redirect_to_private_address_is_refused(feed_server: FeedServer, target: str) -> None:
    inner = FeedServer(host="127.0.0.2")
    try:
        inner.feed("/inner", RELEVANT_RSS)
        url = feed_server.route(
            "/r.xml", Response(302, headers={"Location": target.format(port=inner.port)})
        )
        result = fetch(url)  # 127.0.0.1 is allowed, the redirect target is not
        assert result.error_kind == "refused", result.error
        assert inner.hits["/inner"] == 0
    finally:
        inner.close()


def test_redirect_to_allowlisted_private_address_is_followed(feed_server: FeedServer) -> None:
    inner = FeedServer(host="127.0.0.2")
    try:
        inner.feed("/inner", RELEVANT_RSS)
        url = feed_server.route("/r.xml", Response(302, headers={"Location": inner.url("/inner")}))
        result = fetch(url, allow=("127.0.0.0/8",))
        assert result.ok and inner.hits["/inner"] == 1
    finally:
        inner.close()


# -- case 12: only http and https, checked when the config or the CLI reads a URL -----------

REFUSED_URLS = ["file:///etc/passwd", "/etc/passwd", "ftp://example.org/f.xml", "javascript:x()"]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_config_rejects_non_http_feed_urls(tmp_path: Path, url: str, sqlite_url: str) -> None:
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("bad", url)])
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.url: expected an http or https URL"):
        load_settings(config)
    result = run(config, "check")
    assert result.exit_code == 2 and "http or https" in result.output


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.org:99999/f.xml", "port out of range 0-65535"),
        ("http://[::1/f.xml", "invalid ipv6 url"),
        ("https://exa mple.org/f.xml", "without spaces or control characters"),
        ("https://example.org/f\x00.xml", "without spaces or control characters"),
        ("https:///f.xml", "with a host name"),
    ],
)
def test_a_malformed_url_is_refused_with_its_fault(url: str, reason: str) -> None:
    problem = feed_url_problem(url) or ""
    assert problem.startswith("expected an http or https URL") and reason in problem, problem


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_cli_rejects_non_http_feed_urls(tmp_path: Path, url: str, sqlite_url: str) -> None:
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "feeds", "add", url)
    assert result.exit_code == 2 and "http or https" in result.output
    assert scalar(sqlite_url, "SELECT count(*) FROM feed") == 0


def test_redirect_to_a_non_http_scheme_is_refused(feed_server: FeedServer) -> None:
    url = feed_server.route("/r.xml", Response(301, headers={"Location": "file:///etc/passwd"}))
    result = fetch(url)
    assert result.error_kind == "redirect" and "refused URL" in (result.error or "")


def test_allow_networks_is_per_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    """A feed allowed 127.0.0.1 does not open it to the others, not even through the
    connection it leaves in the pool, nor through a redirect."""
    local = feed_server.feed("/local.xml", RELEVANT_RSS)
    other = feed_server.feed("/other.xml", RELEVANT_RSS)
    bounce = feed_server.route("/bounce.xml", Response(302, headers={"Location": local}))
    config = write_config(
        tmp_path,
        db_url=f"sqlite:///{tmp_path / 'm.db'}",
        feeds=[("other", other), ("bounce", bounce), ("local", local)],
        allow=(),
        extra='allow_networks = ["127.0.0.1/32"]\n',  # the last [[feeds]] table: "local"
    )
    assert run(config, "db", "upgrade").exit_code == 0
    result = run(config, "check")
    assert result.exit_code == 0, result.output
    with Store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        health = {h.name: h for h in store.feed_health()}
    assert health["local"].error_streak == 0 and health["local"].last_success is not None
    for name in ("other", "bounce"):
        assert health[name].error_streak == 1, name
        assert "refused to connect" in (health[name].last_error or ""), health[name]
    assert [r.path for r in feed_server.requests] == ["/local.xml"]
