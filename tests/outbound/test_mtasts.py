# SPDX-License-Identifier: ISC
"""MTA-STS (RFC 8461) on the way out, and the certificate-based levels
that need a CA (issue 11): DANE-TA, [policy] tls = verify with tls_ca.

A (127.0.0.1) sends. B (127.0.0.2) presents a certificate from a test CA
(trusted by A through [delivery] tls_ca) for the MX names it serves, with
the CA certificate in its chain; C (127.0.0.3) presents a self-signed one.
An HTTPS server on 127.0.0.10:443 serves the policies
(tests/outbound/stsserver.py); A may fetch from loopback
(fetch_private_addresses = yes).
"""

import ast
import json
import os
import re

import pytest

import remote_env as env
import testca
from stsserver import StsServer

import harness

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

STS_HOST = "127.0.0.10"

# name -> (MX host address, policy mode or None, the policy's mx line)
STS_ZONES = {
    "enforce.test": ("127.0.0.2", "enforce", "mx.enforce.test"),
    "wild.test": ("127.0.0.2", "enforce", "*.wild.test"),
    "badcert.test": ("127.0.0.3", "enforce", "mx.badcert.test"),
    "notinpolicy.test": ("127.0.0.2", "enforce", "other.notinpolicy.test"),
    "testing.test": ("127.0.0.3", "testing", "mx.testing.test"),
    "testmiss.test": ("127.0.0.2", "testing", "other.testmiss.test"),
    "cached.test": ("127.0.0.3", "enforce", "mx.cached.test"),
    "broken.test": ("127.0.0.3", "broken", None),
    "verifyok.test": ("127.0.0.2", None, None),
}
B_NAMES = ["mx.enforce.test", "mx.wild.test", "mx.notinpolicy.test",
           "mx.verifyok.test", "mx.danetta.test", "mx.testmiss.test"]


def policy(mode, mx):
    return "version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: 604800\r\n" % (
        mode, mx)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("mtasts"))
    certs = os.path.join(base, "certs")
    ca = testca.make_ca(certs)
    leaf = testca.issue(ca, certs, "b", B_NAMES)
    cert_b = env.full_chain(leaf, ca)
    port = env.free_port_everywhere()
    zones = {}
    for name, (ip, mode, mx) in STS_ZONES.items():
        body = "@ MX 10 mx\nmx A %s\n" % ip
        if mode:
            body += ('_mta-sts TXT "v=STSv1; id=1"\nmta-sts A %s\n' %
                     STS_HOST)
        zones[name] = body
    zones["danetta.test"] = (
        "@ MX 10 mx\nmx A 127.0.0.2\n;! sign\n_%d._tcp.mx TLSA 2 0 1 %s\n" %
        (port, env.cert_sha256(ca.cert)))
    # The same anchor, but B's certificate does not name this MX host.
    zones["danetawrong.test"] = zones["danetta.test"]
    keys = env.signing_keys(os.path.join(base, "keys"),
                            ["danetta.test", "danetawrong.test"])
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(
        dnsdir, env.write_zones(os.path.join(base, "zones"), zones),
        keysdir=keys)
    sts_cert = testca.issue(ca, certs, "sts",
                            ["mta-sts.%s" % n for n in STS_ZONES])
    srv = StsServer(STS_HOST, 443, sts_cert.cert, sts_cert.key)
    for name, (ip, mode, mx) in STS_ZONES.items():
        if mode == "broken":
            srv.set("mta-sts." + name, policy="version: STSv2\r\n")
        elif mode:
            srv.set("mta-sts." + name, policy=policy(mode, mx))
    srv.start()
    pool = env.Pool()
    errors = []
    doms_b = [n for n, v in STS_ZONES.items() if v[0] == "127.0.0.2"] + [
        "danetta.test", "danetawrong.test"]
    doms_c = [n for n, v in STS_ZONES.items() if v[0] == "127.0.0.3"]
    try:
        b = pool.start(env.receiver(os.path.join(base, "b"), cert_b, dns,
                                    port, "127.0.0.2", doms_b),
                       provision=env.provision_rcpts(doms_b))
        c = pool.start(env.receiver(os.path.join(base, "c"),
                                    harness.make_cert(certs, "c"), dns, port,
                                    "127.0.0.3", doms_c),
                       provision=env.provision_rcpts(doms_c))
        cfg = env.a_config(os.path.join(base, "a"),
                           harness.make_cert(certs, "a"), dns, port,
                           dane="yes", tls_ca=ca.cert,
                           fetch_private_addresses="yes")
        cfg.extra = '\n[policy "verifyok.test"]\ntls = verify\n'
        a = pool.start(cfg)
        yield {"a": a, "b": b, "c": c, "srv": srv, "dns": dns,
               "ca": ca.cert, "ubdir": os.path.join(base, "unbound")}
    finally:
        srv.stop()
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def test_enforce_with_verifying_certificate_delivers(world):
    line = env.delivered_to(world, "enforce.test", "b")
    assert "policy=mta-sts authenticated=yes" in line, line
    assert world["srv"].hits.get("mta-sts.enforce.test", 0) >= 1


def test_enforce_wildcard_pattern(world):
    line = env.delivered_to(world, "wild.test", "b")
    assert "policy=mta-sts authenticated=yes" in line, line


def test_enforce_bad_certificate_defers(world):
    line, show = env.deferred_to(world, "badcert.test", "c")
    assert "policy=mta-sts authenticated=no" in line, line
    assert "4.7.5 certificate verification failed" in show, show


def test_enforce_mx_not_in_policy_defers(world):
    line, show = env.deferred_to(world, "notinpolicy.test", "b")
    assert "MX host not in the domain's MTA-STS policy" in show, show


def test_testing_mode_delivers_and_records(world):
    line = env.delivered_to(world, "testing.test", "c")
    assert "policy=mta-sts authenticated=no" in line, line


def test_testing_mode_reports_mx_not_in_policy(world):
    """RFC 8461 §5: a testing policy delivers but reports what enforce
    would refuse: an MX host it does not list is a failed session, even
    though its certificate verifies."""
    a = world["a"]
    line = env.delivered_to(world, "testmiss.test", "b")
    assert "policy=mta-sts" in line, line

    def entries():
        r = a.cli("tls-results", "--json")
        assert r.returncode == 0, r.stderr
        return [p for p in json.loads(r.stdout)["policies"]
                if p["policy"]["policy-domain"] == "testmiss.test"]
    got = harness.wait_until(entries, 10, what="TLS results written")
    kinds = [f["result-type"] for p in got for f in p["failure-details"]]
    assert kinds == ["validation-failure"], got
    assert all(p["summary"]["total-successful-session-count"] == 0
               for p in got), got


def test_invalid_policy_is_opportunistic(world):
    line = env.delivered_to(world, "broken.test", "c")
    assert "policy=may" in line, line
    assert env.log_lines(world["a"], "remote destination broken.test "
                         "mta-sts sts-policy-invalid")


def test_cached_policy_enforced_without_server(world):
    """Once fetched, the policy holds until it expires: the server gone
    (404) changes nothing, the bad certificate still defers."""
    srv = world["srv"]
    env.deferred_to(world, "cached.test", "c")
    hits = srv.hits.get("mta-sts.cached.test", 0)
    assert hits >= 1
    srv.set("mta-sts.cached.test", status=404)
    line, show = env.deferred_to(world, "cached.test", "c")
    assert "certificate verification failed" in show, show
    assert srv.hits.get("mta-sts.cached.test", 0) == hits, \
        "a cached policy whose id did not change was fetched again"


def test_policy_verify_with_tls_ca_delivers(world):
    line = env.delivered_to(world, "verifyok.test", "b")
    assert "policy=verify authenticated=yes" in line, line


def test_dane_ta_delivers(world):
    line = env.delivered_to(world, "danetta.test", "b")
    assert "policy=dane authenticated=yes" in line, line


def test_dane_ta_checks_the_name(world):
    """DANE-TA (unlike DANE-EE) needs the certificate to name the TLSA
    base domain or the next-hop domain (RFC 7672 §3.2.2)."""
    line, show = env.deferred_to(world, "danetawrong.test", "b")
    assert "4.7.5 dane:" in show, show


# ------------------------------------------------ interop: mta-sts-query

def mta_sts_query(world, domain):
    """Debian's postfix-mta-sts-resolver on domain, through a real
    resolver on 127.0.0.1:53 and the test CA: (result name, policy dict
    or None)."""
    r = env.run_with_resolver(
        world["ubdir"], ["mta-sts-query", "-v", "error", domain],
        env=dict(os.environ, SSL_CERT_FILE=world["ca"]))
    assert r.returncode == 0, r.stderr
    m = re.match(r"\(<STSFetchResult\.(\w+): \d+>, (.*)\)\s*$", r.stdout,
                 re.S)
    assert m, r.stdout
    rest = ast.literal_eval(m.group(2))
    return m.group(1), (rest[1] if rest else None)


@pytest.fixture(scope="module")
def resolver(world):
    why = env.ensure_package("/usr/bin/mta-sts-query",
                             "postfix-mta-sts-resolver") or \
        env.ensure_package("/usr/sbin/unbound", "unbound")
    if why:
        pytest.skip(why)
    ub = env.start_unbound(world["ubdir"], world["dns"], "enforce.test",
                           validating=False)
    try:
        yield
    finally:
        ub.terminate()
        ub.wait(timeout=30)


@pytest.mark.parametrize("domain", ["enforce.test", "wild.test",
                                    "testing.test", "notinpolicy.test",
                                    "broken.test", "verifyok.test"])
def test_mta_sts_query_agrees(world, resolver, domain):
    """mta-sts-query and `sealmail check-domain` read the same policy (or
    refuse the same one) for each test domain."""
    theirs, pol = mta_sts_query(world, domain)
    r = world["a"].cli("check-domain", domain, "--json", "--timeout", "3")
    ours = json.loads(r.stdout)["mta_sts"]
    if theirs == "VALID":
        assert ours["policy"] is not None, ours
        assert ours["policy"]["mode"] == pol["mode"], (ours, pol)
        assert ours["policy"]["mx"] == pol["mx"], (ours, pol)
        assert ours["policy"]["max_age"] == pol["max_age"], (ours, pol)
    elif theirs == "NONE":
        assert ours["txt"] is None and ours["policy"] is None, ours
    else:
        assert theirs == "FETCH_ERROR", theirs
        assert ours["policy"] is None and ours["error"], ours


def test_tls_results_for_mta_sts(world):
    """The MTA-STS sessions above in `tls-results --json`: an sts policy
    entry carries the policy lines and the mx patterns (RFC 8460 §4.4);
    an invalid policy is reported for a domain without one."""
    a = world["a"]

    def entries():
        r = a.cli("tls-results", "--json")
        assert r.returncode == 0, r.stderr
        out = {}
        for p in json.loads(r.stdout)["policies"]:
            out.setdefault(p["policy"]["policy-domain"], []).append(p)
        return out if {"enforce.test", "badcert.test", "broken.test"} <= \
            set(out) else None
    got = harness.wait_until(entries, 10, what="TLS results written")
    e = got["enforce.test"][0]
    assert e["policy"]["policy-type"] == "sts", e
    assert e["policy"]["mx-host"] == ["mx.enforce.test"], e
    assert e["policy"]["policy-string"] == [
        "version: STSv1", "mode: enforce", "mx: mx.enforce.test",
        "max_age: 604800"], e
    assert e["summary"]["total-successful-session-count"] >= 1, e
    bad = [f["result-type"] for p in got["badcert.test"]
           for f in p["failure-details"]]
    assert bad == ["certificate-not-trusted"], got["badcert.test"]
    broken = got["broken.test"]
    kinds = {(p["policy"]["policy-type"], f["result-type"])
             for p in broken for f in p["failure-details"]}
    assert ("no-policy-found", "sts-policy-invalid") in kinds, broken
