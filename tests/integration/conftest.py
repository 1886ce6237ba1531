"""Fixtures for the integration tests: the HTTP client feedd builds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from feedd import fetch


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The client feedd itself builds, closed after the test."""
    async with fetch.make_client(
        user_agent="feedd-tests/{version}", timeout=5.0, concurrency=4
    ) as http_client:
        yield http_client
