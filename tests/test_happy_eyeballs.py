"""Connecting to a host with several addresses: attempts are staggered and raced (RFC 8305),
so an address that drops packets costs a quarter of a second, not the connect timeout; and
when every address fails, the error names each one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpcore
import pytest
from servers import BlackholePort, FeedServer, free_port

from monitor.fetch.safety import GuardedBackend, Resolver, interleave, parse_networks

LOOPBACK = parse_networks(["127.0.0.0/8"])


def answers(*addresses: str) -> Resolver:
    """A resolver giving these addresses for any name, as a dual-stack host's DNS would."""

    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def get(url: str, backend: GuardedBackend, connect_timeout: float = 10.0) -> int:
    async def go() -> int:
        async with httpcore.AsyncConnectionPool(network_backend=backend) as pool:
            timeout = {"connect": connect_timeout, "read": 10.0, "write": 10.0, "pool": 10.0}
            response = await pool.request("GET", url, extensions={"timeout": timeout})
            return response.status

    return asyncio.run(go())


@pytest.fixture
def hole_beside(feed_server: FeedServer) -> Iterator[BlackholePort]:
    """A blackholed port on 127.0.0.2 with the same number as the feed server's."""
    hole = BlackholePort("127.0.0.2", feed_server.port)
    yield hole
    hole.close()


def test_interleave_alternates_families_from_the_first() -> None:
    v6a, v6b, v4a, v4b = "2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"
    assert interleave([v6a, v6b, v4a, v4b]) == [v6a, v4a, v6b, v4b]
    assert interleave([v4a, v6a, v6b]) == [v4a, v6a, v6b]
    assert interleave([v4a, v4b]) == [v4a, v4b]
    assert interleave([]) == []


def test_an_address_that_drops_packets_costs_the_attempt_delay(
    feed_server: FeedServer, hole_beside: BlackholePort
) -> None:
    feed_server.feed("/f.xml", b"<rss version='2.0'><channel/></rss>")
    backend = GuardedBackend(LOOPBACK, resolver=answers("127.0.0.2", "127.0.0.1"))
    started = time.monotonic()
    status = get(f"http://dual.example:{feed_server.port}/f.xml", backend)
    # Tried one address after another, the first would hold the fetch for the whole
    # 10 s connect timeout.
    assert status == 200 and time.monotonic() - started < 5
    assert feed_server.hits["/f.xml"] == 1


def test_when_several_connect_one_wins_and_the_request_is_sent_once(
    feed_server: FeedServer,
) -> None:
    feed_server.feed("/f.xml", b"<rss version='2.0'><channel/></rss>")
    both = answers("127.0.0.1", "127.0.0.1", "127.0.0.1")
    backend = GuardedBackend(LOOPBACK, resolver=both, attempt_delay=0)
    assert get(f"http://dual.example:{feed_server.port}/f.xml", backend) == 200
    assert feed_server.hits["/f.xml"] == 1


def test_every_address_refused_names_each() -> None:
    port = free_port()
    backend = GuardedBackend(LOOPBACK, resolver=answers("127.0.0.2", "127.0.0.3"))
    with pytest.raises(httpcore.ConnectError) as caught:
        get(f"http://dual.example:{port}/", backend)
    message = str(caught.value)
    assert message.startswith("dual.example (")
    assert "127.0.0.2: Connection refused" in message
    assert "127.0.0.3: Connection refused" in message


def test_the_connect_timeout_bounds_all_attempts_together() -> None:
    holes = [BlackholePort("127.0.0.2")]
    holes += [BlackholePort(f"127.0.0.{n}", holes[0].port) for n in (3, 4)]
    addresses = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
    try:
        backend = GuardedBackend(LOOPBACK, resolver=answers(*addresses))
        started = time.monotonic()
        with pytest.raises(httpcore.ConnectTimeout) as caught:
            get(f"http://dual.example:{holes[0].port}/", backend, connect_timeout=1.5)
        elapsed = time.monotonic() - started
    finally:
        for hole in holes:
            hole.close()
    tried = ", ".join(addresses)
    assert f"connecting to dual.example ({tried}) timed out" in str(caught.value)
    # One timeout for all three (1.5 s), not one each (4.5 s); the margin is for a busy host.
    assert 1.4 < elapsed < 3.9


def test_an_ip_literal_that_refuses_says_so_plainly() -> None:
    port = free_port()
    with pytest.raises(httpcore.ConnectError) as caught:
        get(f"http://127.0.0.1:{port}/", GuardedBackend(LOOPBACK))
    assert str(caught.value) == "127.0.0.1: Connection refused"


def test_the_policy_still_applies_to_every_address(feed_server: FeedServer) -> None:
    feed_server.feed("/f.xml", b"<rss version='2.0'><channel/></rss>")
    only_one = parse_networks(["127.0.0.1/32"])
    backend = GuardedBackend(only_one, resolver=answers("127.0.0.1", "127.0.0.2"))
    with pytest.raises(httpcore.ConnectError, match=r"refused to connect to dual\.example"):
        get(f"http://dual.example:{feed_server.port}/f.xml", backend)
    assert feed_server.hits["/f.xml"] == 0
