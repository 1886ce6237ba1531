"""Exceptions raised by feedd.

    FeeddError
     ├── ConfigError      the config file is unreadable or invalid (holds every problem)
     ├── FetchError       the feed could not be retrieved (network, HTTP status, limits)
     │    └── BlockedAddressError   the URL points into a private network
     ├── ParseError       the body is not a feed we can read
     ├── StoreError       the database refused a write
     │    ├── StoreConflict  another writer's transaction won: run it again
     │    └── LeaseLost      another poller has the feed now: write nothing
     ├── QueryError       the read side cannot open or read the database
     ├── BadQuery         a read command's input is invalid (a bad date, field or search)
     ├── OpmlError        the document is not OPML at all
     ├── BadSelector      an article CSS selector that is no CSS selector
     └── BadRequest       the metrics endpoint got a malformed or oversized request

Within a batch, the pipeline turns FetchError and ParseError into an Outcome
value, so one bad feed never stops the others.
"""

from __future__ import annotations


class FeeddError(Exception):
    """Base class for every error feedd raises on purpose."""


class ConfigError(FeeddError):
    """The config is invalid. ``problems`` lists each one, already worded for a user."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


class FetchError(FeeddError):
    """The feed could not be retrieved."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: str | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after  # the server's Retry-After header (429, 503), as sent
        super().__init__(message)


class BlockedAddressError(FetchError):
    """The URL resolves to an address feedd must not contact."""


class ParseError(FeeddError):
    """The body is not a feed. ``status`` is the HTTP status it came with, when known."""

    status: int | None = None


class StoreError(FeeddError):
    """The database refused a write."""


class StoreConflict(StoreError):
    """The database undid a transaction for another writer's (a deadlock, a
    serialization failure): running it again from the same values is safe."""


class LeaseLost(StoreError):
    """The poll's lease on its feed expired and another poller claimed the feed:
    this poll's result is dropped, the other poll's stands."""


class QueryError(FeeddError):
    """The database cannot be opened or read (the CLI exits 1)."""


class BadQuery(FeeddError):
    """The user's input is invalid: a bad date, an unknown field, a search the
    backend rejects (the CLI exits 2)."""


class OpmlError(FeeddError):
    """The document is not OPML at all (nothing recoverable)."""


class BadSelector(FeeddError):
    """An article selector (``extract``'s ``selector``) is not a CSS selector: the
    config's or the user's fault, never the page's."""


class BadRequest(FeeddError):
    """The HTTP request to /healthz or /metrics is malformed or too large (400)."""
