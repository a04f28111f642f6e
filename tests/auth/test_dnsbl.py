# SPDX-License-Identifier: ISC
"""DNSBL lookups of mx clients ([server] dnsbl) against a real DNS server
(NSD, tests/dns/dnsserver.py) serving two test lists:

* dnsbl.test lists 127.0.0.2 (code 127.0.0.2, which the config counts),
  answers 127.255.255.254 ("you queried wrongly") for 127.0.0.3 and
  127.0.0.4 for 127.0.0.4 (a code the config does not count);
* any.test (no codes configured: any 127/8 answer but 127.0.0.1 and
  127.255.255.x counts) lists 127.0.0.4 with 127.0.0.10.

A listed client is refused at RCPT with 550 5.7.1 naming the zone, yet
reaches postmaster; an error answer is logged and not a listing; an
unlisted client is served; answers are cached."""
import os
import re
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import dnsserver  # noqa: E402
import harness  # noqa: E402
from harness import Config, Daemon, make_cert, provision  # noqa: E402
from smtpraw import RawSMTP  # noqa: E402

ZONES = {
    "test": "",
    "dnsbl.test": "2.0.0.127 IN A 127.0.0.2\n"
                  "2.0.0.127 IN TXT \"listed for testing\"\n"
                  "3.0.0.127 IN A 127.255.255.254\n"
                  "4.0.0.127 IN A 127.0.0.4\n",
    "any.test": "4.0.0.127 IN A 127.0.0.10\n",
}


def mx_config(base, name, dnsbl, info):
    """An mx listener without TLS (the test is not about TLS), the given
    dnsbl, no pregreet wait, the test DNS server as resolver."""
    cfg = Config(os.path.join(base, name), [make_cert(base, name)])
    cfg.listen("mx", "mx", "none")
    cfg.server["dnsbl"] = dnsbl
    cfg.server["pregreet_wait"] = "0"
    cfg.dns = {"resolver": info["resolver"], "trust_anchor": "",
               "unbound_config": info["unbound_config"]}
    return cfg


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not dnsserver.have_tools():
        pytest.skip("nsd is not installed")
    base = str(tmp_path_factory.mktemp("dnsbl"))
    files = dnsserver.write_zones(os.path.join(base, "zones"), ZONES)
    info = dnsserver.start(os.path.join(base, "dns"), files,
                           blackhole=["slow.test"])
    cfg = mx_config(base, "mta", "dnsbl.test=127.0.0.2, any.test", info)
    provision(cfg)
    d = Daemon(cfg)
    try:
        d.start()
        d.dns_info, d.base = info, base
        yield d
    finally:
        try:
            d.stop()
        finally:
            dnsserver.stop(os.path.join(base, "dns"))


def rcpts(d, source, addrs, listener="mx"):
    with RawSMTP.to(d[listener], source=source, timeout=30) as c:
        c.ehlo()
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        return [c.cmd("RCPT TO:<%s>" % a) for a in addrs]


def test_listed_client_refused_at_rcpt_postmaster_reachable(env):
    r = rcpts(env, "127.0.0.2", ["alice@example.test", "Postmaster",
                                 "postmaster@example.test",
                                 "PostMaster@Example.Test"])
    assert (r[0].code, r[0].enhanced) == (550, "5.7.1"), r
    assert "dnsbl.test" in r[0].text, r[0]
    assert [x.code for x in r[1:]] == [250, 250, 250], r
    log = env.log_text()
    assert re.search(r'smtp rcpt to="?alice@example\.test"? result=dnsbl '
                     r'zone=dnsbl\.test addr=127\.0\.0\.2 '
                     r'answer=127\.0\.0\.2', log), log[-3000:]


def test_any_code_zone_and_uncounted_code(env):
    """127.0.0.4 gets a code dnsbl.test's config does not count, and one
    any.test (no codes configured) does."""
    r = rcpts(env, "127.0.0.4", ["alice@example.test"])
    assert (r[0].code, r[0].enhanced) == (550, "5.7.1"), r
    assert "any.test" in r[0].text and "dnsbl.test" not in r[0].text, r


def test_error_code_is_not_a_listing(env):
    r = rcpts(env, "127.0.0.3", ["alice@example.test"])
    assert r[0].code == 250, r
    assert re.search(r"dnsbl zone=dnsbl\.test addr=127\.0\.0\.3 "
                     r"answer=127\.255\.255\.254: an error code",
                     env.log_text())


def test_unlisted_client_served_and_cached(env):
    for _ in range(2):
        r = rcpts(env, "127.0.0.5", ["alice@example.test"])
        assert r[0].code == 250, r
    # A second listed connection is answered from the cache, the same.
    for _ in range(2):
        r = rcpts(env, "127.0.0.2", ["bob@example.test"])
        assert r[0].code == 550, r


def test_rcpt_waits_for_a_slow_list_then_fails_open(env):
    """A list that does not answer: the pipelined RCPT waits for the
    lookup's deadline, then the client is taken as not listed (and the
    failure is logged)."""
    cfg = mx_config(env.base, "slow", "slow.test", env.dns_info)
    provision(cfg)
    d = Daemon(cfg)
    d.start()
    try:
        with RawSMTP.to(d["mx"], source="127.0.0.6", timeout=30) as c:
            c.send("EHLO client.example.test\r\n"
                   "MAIL FROM:<someone@remote.test>\r\n"
                   "RCPT TO:<alice@example.test>\r\n")
            t = time.monotonic()
            r = c.replies(3)
            took = time.monotonic() - t
            assert [x.code for x in r] == [250, 250, 250], r
            assert took >= 0.4, took   # libunbound gives up after ~0.75 s
        assert re.search(r"dnsbl zone=slow\.test addr=127\.0\.0\.6 "
                         r"lookup failed \((TIMEOUT|SERVFAIL)\)",
                         d.log_text())
    finally:
        d.stop()
