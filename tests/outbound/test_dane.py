# SPDX-License-Identifier: ISC
"""Authenticated TLS between servers (issue 11): DANE (RFC 7672) and the
[policy "DOMAIN"] levels, between sealmail instances on loopback.

A (127.0.0.1) sends; B (127.0.0.2) receives over STARTTLS with a
self-signed certificate; C (127.0.0.3) receives without STARTTLS. The test
DNS server serves DNSSEC-signed zones (keys made at the start, trust
anchors handed to A through the unbound config) whose MX records point at
B or C, with TLSA records that match B's key or not.

Run as root from the repository root (make test does this):

    SEALMAIL_BIN=$PWD/build/sealmail unshare --net sh -c \\
      'ip link set lo up && exec /usr/bin/python3 -m pytest -q tests/outbound'
"""

import os

import pytest

import remote_env as env

import harness
from harness import Config, cli_ok, new_marker
from remote_env import submit, wait_attempt

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

C_HOST = "127.0.0.3"
WRONG = "00" * 32
PW = "dane-Secret-4711"

# Zones whose MX is B (127.0.0.2) or C (127.0.0.3): (name, MX host,
# signed?, TLSA rdata or None, extra directives).
B_ZONES = {
    "ee.test": (True, "3 1 1 {spki}"),          # DANE-EE, matches B
    "mismatch.test": (True, "3 1 1 " + WRONG),  # matches nothing
    "bogus.dane.test": (True, "3 1 1 {spki}"),  # corrupted after signing
    "unusable.test": (True, "0 0 1 " + WRONG),  # PKIX-TA: unusable
    "sf.test": (True, None),                    # TLSA lookup SERVFAIL
    "unsigned.test": (False, "3 1 1 " + WRONG), # insecure: ignored
    "nodane.test": (True, None),                # signed, no TLSA
    "p-verify.test": (False, None),
    "p-verifymx.test": (False, None),
    "p-daneonly.test": (False, None),
    "p-none.test": (False, None),
}
C_ZONES = {
    "stripped.test": (True, "3 1 1 {spki}"),    # DANE, no STARTTLS
    "p-encrypt.test": (False, None),
}

POLICIES = """
[policy "p-verify.test"]
tls = verify

[policy "p-verifymx.test"]
tls = verify
mx_match = mail.p-verifymx.test

[policy "p-daneonly.test"]
tls = dane-only

[policy "p-none.test"]
tls = none

[policy "p-encrypt.test"]
tls = encrypt
"""


def zone_body(name, host_ip, signed, tlsa, spki, port):
    body = "@ MX 10 mx\nmx A %s\n" % host_ip
    if signed:
        body += ";! sign\n"
    if tlsa is not None:
        body += "_%d._tcp.mx TLSA %s\n" % (port, tlsa.format(spki=spki))
    if name == "bogus.dane.test":
        body += ";! corrupt _%d._tcp.mx.%s. TLSA\n" % (port, name)
    if name == "sf.test":
        # The name exists in the signed zone (so no cached NSEC proves it
        # absent, RFC 8198), and NSD answers SERVFAIL for it.
        body += '_%d._tcp.mx TXT "x"\n' % port
        body += ";! servfail _%d._tcp.mx.sf.test\n" % port
    return body


def receiver(folder, cert, dns, port, host, domains, tls):
    cfg = Config(folder, [cert])
    cfg.server["hostname"] = "mx.%s" % domains[0]
    cfg.domains = list(domains)
    cfg.listen("mx", "mx", tls, host=host, port=port)
    env.set_dns(cfg, dns)
    return cfg


def provision(domains):
    def run(cfg):
        cfg.write()
        for d in domains:
            cli_ok(cfg.path, "user", "add", "rcpt@" + d, "--password-stdin",
                   input=PW + "\n")
    return run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("dane"))
    certs = os.path.join(base, "certs")
    cert_b = harness.make_cert(certs, "b", cn="mx.ee.test")
    spki = env.spki_sha256(cert_b.cert)
    port = env.free_port_everywhere()
    extra = {}
    for name, (signed, tlsa) in B_ZONES.items():
        extra[name] = zone_body(name, "127.0.0.2", signed, tlsa, spki, port)
    for name, (signed, tlsa) in C_ZONES.items():
        extra[name] = zone_body(name, C_HOST, signed, tlsa, spki, port)
    signed = [n for n, v in list(B_ZONES.items()) + list(C_ZONES.items())
              if v[0]]
    keys = env.signing_keys(os.path.join(base, "keys"), signed)
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(
        dnsdir, env.write_zones(os.path.join(base, "zones"), extra),
        keysdir=keys)
    pool = env.Pool()
    errors = []
    try:
        b = pool.start(receiver(os.path.join(base, "b"), cert_b, dns, port,
                                "127.0.0.2", list(B_ZONES), "starttls"),
                       provision=provision(list(B_ZONES)))
        c = pool.start(receiver(os.path.join(base, "c"),
                                harness.make_cert(certs, "c"), dns, port,
                                C_HOST, list(C_ZONES), "none"),
                       provision=provision(list(C_ZONES)))
        cfg = env.a_config(os.path.join(base, "a"),
                           harness.make_cert(certs, "a"), dns, port,
                           dane="yes")
        cfg.extra = POLICIES
        a = pool.start(cfg)
        yield {"a": a, "b": b, "c": c, "port": port, "spki": spki}
    finally:
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def rcpt(domain):
    return "rcpt@" + domain


def queue_show(a, qid):
    r = a.cli("queue", "show", qid)
    assert r.returncode == 0, r.stderr
    return r.stdout


def delivered(world, domain, host="b"):
    """Submit to rcpt@domain, wait for it in the receiver's mailbox;
    returns A's attempt log line."""
    a = world["a"]
    marker = new_marker()
    qid = submit(a, [rcpt(domain)], marker)
    world[host].mailbox(rcpt(domain)).wait_for(marker)
    return wait_attempt(a, qid, rcpt(domain), "delivered")[0]


def deferred(world, domain, host="b"):
    """Submit to rcpt@domain: deferred, nothing delivered, still queued.
    Returns (attempt log line, queue show text)."""
    a = world["a"]
    marker = new_marker()
    qid = submit(a, [rcpt(domain)], marker)
    line = wait_attempt(a, qid, rcpt(domain), "deferred")[0]
    env.no_mail_for(world[host].mailbox(rcpt(domain)), marker, 1)
    assert qid in a.queue_ids()
    return line, queue_show(a, qid)


def test_dane_ee_match_delivers_authenticated(world):
    line = delivered(world, "ee.test")
    assert "policy=dane authenticated=yes" in line, line
    assert "verified=yes" in line, line


def test_tlsa_mismatch_defers_and_says_why(world):
    line, show = deferred(world, "mismatch.test")
    assert "policy=dane authenticated=no" in line, line
    assert "4.7.5 dane: certificate matches no TLSA record of " \
        "mx.mismatch.test" in show, show


def test_bogus_tlsa_defers(world):
    line, show = deferred(world, "bogus.dane.test")
    assert "4.7.5 dane: TLSA lookup failed or was bogus for " \
        "mx.bogus.dane.test" in show, show
    assert env.log_lines(world["a"], "remote host mx.bogus.dane.test "
                         "skipped", "reason=dnssec-invalid")


def test_tlsa_servfail_defers(world):
    line, show = deferred(world, "sf.test")
    assert "TLSA lookup failed or was bogus" in show, show


def test_secure_unusable_tlsa_encrypts_unauthenticated(world):
    line = delivered(world, "unusable.test")
    assert "policy=dane authenticated=no" in line, line
    assert "tls=TLSv1.3/" in line, line


def test_starttls_stripped_under_dane_defers(world):
    line, show = deferred(world, "stripped.test", host="c")
    assert "STARTTLS not offered" in show, show


def test_insecure_tlsa_is_ignored(world):
    line = delivered(world, "unsigned.test")
    assert "policy=may" in line, line


def test_signed_without_tlsa_is_opportunistic(world):
    line = delivered(world, "nodane.test")
    assert "policy=may" in line, line


def test_policy_verify_refuses_self_signed(world):
    line, show = deferred(world, "p-verify.test")
    assert "policy=verify authenticated=no" in line, line
    assert "4.7.5 certificate verification failed" in show, show


def test_policy_verify_mx_match(world):
    line, show = deferred(world, "p-verifymx.test")
    assert "MX host not in the mx_match list" in show, show


def test_policy_dane_only_needs_dnssec(world):
    line, show = deferred(world, "p-daneonly.test")
    assert "dane-only" in show, show
    assert env.log_lines(world["a"], "remote host mx.p-daneonly.test "
                         "skipped", "reason=dane-required")


def test_policy_none_sends_in_clear(world):
    line = delivered(world, "p-none.test")
    assert "tls=none" in line and "policy=none" in line, line


def test_policy_encrypt_needs_starttls(world):
    line, show = deferred(world, "p-encrypt.test", host="c")
    assert "STARTTLS not offered" in show, show
