"""Where a fetch may connect: the address policy and the network backend that enforces it.

The policy is a pure decision (`address_problem`). The backend applies it at connect time,
after DNS resolution, for the feed URL and for every redirect hop alike: it resolves the host
itself, checks every address it got, and connects to a checked address (racing them when
there are several, as Happy Eyeballs does). Checking the URL's host name before the request
would not do, because DNS can answer differently a moment later (DNS rebinding). TLS still
verifies and sends SNI for the host name, since httpcore starts TLS on the returned stream
with the original host.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
import httpcore
from httpcore._backends.anyio import AnyIOStream
from httpcore._utils import is_socket_readable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 8305's recommended "Connection Attempt Delay".
ATTEMPT_DELAY = 0.25

Resolver = Callable[[str, int], Awaitable[list[str]]]


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def address_problem(address: str | IPAddress, allow: Iterable[Network] = ()) -> str | None:
    """Why connecting to `address` is refused, or None when it is a public address (or allowed).

    Refused: loopback, private, link-local, carrier-grade NAT, unspecified, multicast and
    reserved addresses, and IPv6 forms that embed such an IPv4 address (mapped, NAT64, 6to4).
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if any(ip.version == net.version and ip in net for net in allow):
        return None
    embedded = _embedded_v4(ip)
    if embedded is not None:
        if any(net.version == 4 and embedded in net for net in allow):
            return None
        inner = address_problem(embedded, ())
        return f"{ip} embeds {inner}" if inner else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.version == 4 and ip in CGNAT, "a carrier-grade NAT address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
    )
    for refused, what in checks:
        if refused:
            return f"{ip} is {what}"
    return None


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def interleave(addresses: Sequence[str]) -> list[str]:
    """The addresses alternating between IPv6 and IPv4, the first address's family first
    (RFC 8305, section 4): a family that is broken costs one attempt, not one per address."""
    first_v6 = bool(addresses) and ":" in addresses[0]
    v6 = [a for a in addresses if ":" in a]
    v4 = [a for a in addresses if ":" not in a]
    first, second = (v6, v4) if first_v6 else (v4, v6)
    return [a for pair in itertools.zip_longest(first, second) for a in pair if a is not None]


def _socket_reason(exc: BaseException) -> str:
    """A failed connection's reason in words, e.g. "Connection refused". anyio raises "All
    connection attempts failed" with the socket's error as the cause, and asyncio words that
    one "Connect call failed (address)": the errno says what happened."""
    cause = exc.__cause__
    while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    if isinstance(cause, OSError):
        exc = cause
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc)


class _Stream(AnyIOStream):
    """httpcore's anyio stream, asking the socket itself whether it is readable. The pool asks
    that of every idle connection each time it hands one out, and anyio answers by building
    its table of a stream's attributes anew (a tenth of a warm pass's HTTP time)."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        super().__init__(stream)
        self._socket = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return super().get_extra_info(info)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await super().start_tls(ssl_context, server_hostname, timeout)
        return _Stream(tls._stream) if isinstance(tls, AnyIOStream) else tls


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows."""

    def __init__(
        self,
        allow: Iterable[Network] = (),
        *,
        resolver: Resolver | None = None,
        attempt_delay: float = ATTEMPT_DELAY,
    ) -> None:
        self.allow = tuple(allow)
        self.resolve = resolver or resolve
        self.attempt_delay = attempt_delay
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        # Every address must pass: a host that resolves to one public and one private address
        # could be steered to the private one by the next resolution.
        for address in addresses:
            problem = address_problem(address, self.allow)
            if problem:
                raise httpcore.ConnectError(f"refused to connect to {host}: {problem}")
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        try:
            with anyio.fail_after(timeout):
                stream = await self._first_to_connect(
                    host, interleave(addresses), port, local_address
                )
        except TimeoutError:
            tried = ", ".join(addresses)
            raise httpcore.ConnectTimeout(f"connecting to {host} ({tried}) timed out") from None
        return _Stream(stream)

    async def _first_to_connect(
        self, host: str, addresses: list[str], port: int, local_address: str | None
    ) -> anyio.abc.SocketStream:
        """Happy Eyeballs (RFC 8305): the next address is tried `attempt_delay` seconds after
        the one before, or as soon as it fails; the first connection wins and the attempts
        still running are cancelled. An address whose route drops packets (a broken IPv6
        path is the usual one) then costs a quarter of a second, not the connect timeout."""
        won: list[anyio.abc.SocketStream] = []
        failures: list[str] = []

        async def attempt(address: str, failed: anyio.Event) -> None:
            try:
                stream = await anyio.connect_tcp(address, port, local_host=local_address)
            except (OSError, ValueError) as exc:
                failures.append(f"{address}: {_socket_reason(exc)}")
                failed.set()
                return
            if won:  # another attempt connected first
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                return
            won.append(stream)
            group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for address in addresses:
                if won:
                    break
                failed = anyio.Event()
                group.start_soon(attempt, address, failed)
                with anyio.move_on_after(self.attempt_delay):
                    await failed.wait()
        if won:
            return won[0]
        if len(addresses) == 1 and host.strip("[]") == addresses[0]:
            raise httpcore.ConnectError(failures[0])  # an IP literal: "address: reason"
        raise httpcore.ConnectError(f"{host} ({'; '.join(failures)})")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
