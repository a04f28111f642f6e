# SPDX-License-Identifier: ISC
"""Our own MTA-STS policy, served (issue 13), checked by the clients that
will read it: Debian's postfix-mta-sts-resolver (mta-sts-query) and
another sealmail's fetcher (src/sts/sts_fetch.c), which then delivers
under the policy.

W (127.0.0.2) receives mail for served.test (mta_sts = enforce, the mx
its hostname mx.served.test) and serves the policy on an https listener
at 127.0.0.2:443, with a test-CA certificate for mta-sts.served.test
apart from the one for mx.served.test, so SNI must pick it. A (127.0.0.1)
trusts the CA ([delivery] tls_ca) and may fetch from loopback.
"""

import hashlib
import os
import re
import subprocess

import pytest

import remote_env as env
import testca

import harness

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

DOMAIN = "served.test"
W_HOST = "127.0.0.2"
MX = "mx." + DOMAIN
# What sts_serve writes for the domain below: the test spells it out so a
# change in the served text is seen here.
POLICY = ("version: STSv1\r\nmode: enforce\r\nmx: %s\r\nmax_age: 86400\r\n"
          % MX)
POLICY_ID = hashlib.sha256(POLICY.encode()).hexdigest()[:32]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("stsserve"))
    certs = os.path.join(base, "certs")
    ca = testca.make_ca(certs)
    mx_cert = env.full_chain(testca.issue(ca, certs, "mx", [MX]), ca)
    sts_cert = testca.issue(ca, certs, "sts", ["mta-sts." + DOMAIN])
    port = env.free_port_everywhere()
    zones = {DOMAIN: ('@ MX 10 mx\nmx A %s\n_mta-sts TXT "v=STSv1; id=%s"\n'
                      'mta-sts A %s\n' % (W_HOST, POLICY_ID, W_HOST))}
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(
        dnsdir, env.write_zones(os.path.join(base, "zones"), zones))
    pool = env.Pool()
    try:
        wcfg = env.receiver(os.path.join(base, "w"), mx_cert, dns, port,
                            W_HOST, [DOMAIN])
        wcfg.certs.append(sts_cert)
        wcfg.listen("https", "https", "implicit", host=W_HOST, port=443)
        wcfg.domains = []
        wcfg.extra = ('\n[domain "%s"]\nmta_sts = enforce\n'
                      'mta_sts_max_age = 1d\n' % DOMAIN)
        w = pool.start(wcfg, provision=env.provision_rcpts([DOMAIN]))
        acfg = env.a_config(os.path.join(base, "a"),
                            harness.make_cert(certs, "a"), dns, port,
                            tls_ca=ca.cert, fetch_private_addresses="yes")
        a = pool.start(acfg)
        yield {"a": a, "w": w, "dns": dns, "ca": ca.cert,
               "ubdir": os.path.join(base, "unbound")}
    finally:
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def test_served_text_is_the_policy(world):
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert",
                        world["ca"], "-D", "-",
                        "https://mta-sts.%s/.well-known/mta-sts.txt" % DOMAIN,
                        "--resolve", "mta-sts.%s:443:%s" % (DOMAIN, W_HOST)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nContent-Type: text/plain\r\n" in head
    assert body == POLICY.encode()
    # dns-records prints the TXT record for this very text (once that
    # command is there: it is another part of issue 13).
    d = world["w"].cli("dns-records", "--domain", DOMAIN)
    if d.returncode == 0 and "_mta-sts" in d.stdout:
        assert "v=STSv1; id=%s" % POLICY_ID in d.stdout, d.stdout


def test_mta_sts_query_accepts(world):
    why = env.ensure_package("/usr/bin/mta-sts-query",
                             "postfix-mta-sts-resolver") or \
        env.ensure_package("/usr/sbin/unbound", "unbound")
    if why:
        pytest.skip(why)
    ub = env.start_unbound(world["ubdir"], world["dns"], DOMAIN,
                           validating=False)
    try:
        r = env.run_with_resolver(
            world["ubdir"], ["mta-sts-query", "-v", "error", DOMAIN],
            env=dict(os.environ, SSL_CERT_FILE=world["ca"]))
    finally:
        ub.terminate()
        ub.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("(<STSFetchResult.VALID: "), r.stdout
    assert "'mode': 'enforce'" in r.stdout, r.stdout
    assert "'mx': ['%s']" % MX in r.stdout, r.stdout
    assert "'max_age': 86400" in r.stdout, r.stdout
    assert POLICY_ID in r.stdout, r.stdout


def test_sealmail_fetcher_delivers_under_it(world):
    """A fetches W's policy and delivers to W under it (its certificate
    checked against mx.served.test)."""
    line = env.expect_delivered(world["a"], world["w"], env.rcpt(DOMAIN))
    assert "policy=mta-sts authenticated=yes" in line, line
    log = world["w"].log_text()
    assert re.search(r"web request listener=https addr=127\.0\.0\.1 "
                     r"method=GET host=\"mta-sts\.served\.test\" "
                     r"path=\"/\.well-known/mta-sts\.txt\" status=200", log)
