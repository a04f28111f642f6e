"""Fixtures of the store tests: a private PostgreSQL server (pgserver.py)
per module."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pgserver  # noqa: E402


@pytest.fixture(scope="module")
def pg():
    reason = pgserver.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = pgserver.PgServer()
    try:
        yield server
    finally:
        server.close()
