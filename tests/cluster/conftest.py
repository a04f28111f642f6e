# SPDX-License-Identifier: ISC
"""Fixtures of tests/cluster: `cluster`, the two nodes behind HAProxy on
one PostgreSQL (clusterkit.py), per module; a failing test's report gets
the tails of the nodes', HAProxy's and PostgreSQL's logs."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterkit import Cluster, start_cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    errors = []
    try:
        start_cluster(c)
        yield c
    finally:
        errors = c.close()
    if errors:
        pytest.fail("cluster teardown: " + "\n".join(errors), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report shows the tails of the nodes' logs and
    HAProxy's."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    c = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if not isinstance(c, Cluster):
        return
    for d in c.nodes:
        rep.sections.append(("sealmail log %s" % d.log_path, d.log_tail(60)))
    if c.ha is not None:
        rep.sections.append(("haproxy log", "\n".join(
            c.ha.log_text().splitlines()[-30:])))
    if c.pg is not None:
        rep.sections.append(("postgresql log", c.pg.log_tail(30)))
