"""Fetching feeds: `client` does HTTP within every bound, `safety` decides where a connection
may go, `headers` reads the response headers that steer scheduling. Import from here."""

from monitor.fetch import _no_httpx_cli  # noqa: F401  (first: before httpx is imported)
from monitor.fetch.client import Limiter, fetch_all, fetch_one, make_client
from monitor.fetch.headers import encoding_problem, max_age_seconds, retry_after_seconds
from monitor.fetch.safety import address_problem

__all__ = [
    "Limiter",
    "address_problem",
    "encoding_problem",
    "fetch_all",
    "fetch_one",
    "make_client",
    "max_age_seconds",
    "retry_after_seconds",
]
