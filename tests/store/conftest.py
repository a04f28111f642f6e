"""Fixtures of the store tests: a private PostgreSQL server (pgserver.py)
per module, and the C helper that drives the driver against it."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pgserver  # noqa: E402

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def helper(name):
    """build/test/helpers/NAME beside the binary under test, built if
    missing (make, in the tree, for the build folder in use)."""
    sbin = os.environ.get("SEALMAIL_BIN", os.path.join(TREE, "build",
                                                       "sealmail"))
    build = os.path.dirname(os.path.abspath(sbin))
    path = os.path.join(build, "test", "helpers", name)
    if not os.path.exists(path):
        rel = os.path.relpath(build, TREE)
        subprocess.run(["make", "-s", "BUILD=" + rel,
                        os.path.join(rel, "test", "helpers", name)],
                       cwd=TREE, check=True, timeout=600)
    return path


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
