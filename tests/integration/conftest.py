# SPDX-License-Identifier: ISC
"""pytest fixtures of the sealmail integration suite (see tests/README).

Daemons are started through a DaemonPool so that every process a test (or
module, or session) starts is stopped at its end, even on failure; a daemon
that does not stop within 10 s of SIGTERM, leaves children behind or logs a
sanitizer report fails the test that owned it.
"""

import os
import time

import pytest

import harness
import nxdns
from harness import provision, standard_config


class DaemonPool(harness.DaemonGroup):
    def __init__(self, tmp_factory, name):
        super().__init__()
        self.tmp_factory = tmp_factory
        self.name = name

    def folder(self):
        return str(self.tmp_factory.mktemp(self.name))

    def config(self, certs, ipv6=None):
        """A standard config in a fresh folder (not yet provisioned)."""
        return standard_config(self.folder(), certs, ipv6=ipv6)

    def start(self, cfg, users=True):
        return super().start(cfg, provision if users else None)

    def stop_all(self):
        errors = super().stop_all()
        if errors:
            pytest.fail("daemon teardown: " + "\n".join(errors),
                        pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def sealmail_bin():
    p = harness.sealmail_bin()
    if not os.access(p, os.X_OK):
        pytest.fail("SEALMAIL_BIN %s is not an executable (build it with "
                    "`make` or set SEALMAIL_BIN)" % p, pytrace=False)
    return p


@pytest.fixture(scope="session", autouse=True)
def dns():
    """The loopback resolver every daemon forwards to: NXDOMAIN for all
    (inbound SPF/DMARC lookups end at once instead of timing out)."""
    srv = nxdns.NxDns()
    harness.DNS_RESOLVER = srv.resolver
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """ec: the default ECDSA P-256 certificate; ec2: another one (reload
    test); rsa: RSA 2048 (dual-certificate test)."""
    d = str(tmp_path_factory.mktemp("certs"))
    return {
        "ec": harness.make_cert(d, "ecdsa", "ec"),
        "ec2": harness.make_cert(d, "ecdsa2", "ec"),
        "rsa": harness.make_cert(d, "rsa", "rsa"),
    }


@pytest.fixture
def daemons(tmp_path_factory):
    """Per-test daemons (restart, crash, reload tests)."""
    pool = DaemonPool(tmp_path_factory, "d")
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def module_daemons(tmp_path_factory):
    """Daemons shared by the tests of one module (special configs)."""
    pool = DaemonPool(tmp_path_factory, "m")
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def mta(module_daemons, certs):
    """The standard daemon shared by the tests of a module that do not
    disturb it: listeners mx, mx_implicit, mx_plain, submission,
    submissions, plain (and mx6 on [::1]), accounts alice/bob, alias
    sales -> alice. One per module: a daemon bug that wedges it spoils
    one module, not the run, and starting one costs well under a second."""
    return module_daemons.start(module_daemons.config([certs["ec"]]))


# ------------------------------------------------------------ failure reports

def pytest_runtest_setup(item):
    item._sealmail_t0 = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    t0 = getattr(item, "_sealmail_t0", 0)
    for d in harness.ALL_DAEMONS:
        if d.log_path and (d.alive() or (d.stopped_at or 0) >= t0):
            rep.sections.append(("sealmail log %s" % d.log_path,
                                 d.log_tail(60)))
