# SPDX-License-Identifier: ISC
"""ARC sealing of forwarded mail (issue 12 item 6, RFC 8617 §5.1) between
two real sealmail instances, each the MX of its domain in the test DNS
server: A (127.0.0.1, arca.test, RSA key s1) and B (127.0.0.2, arcb.test,
Ed25519 key s2).

A message from outside (origin.test, DKIM-signed by the test with
dkimpy, SPF for loopback) reaches A's mx listener for an alias of A that
forwards to B:
* the copy B receives carries one ARC set, i=1 cv=none, d=arca.test, that
  dkimpy's arc_verify passes, and B's own Authentication-Results says
  arc=pass; the copy A delivers locally in the same message has none;
* forwarded twice (A alias -> B alias -> a mailbox on A) it ends with
  i=2 (B's seal, cv=pass), which dkimpy and A's own checks pass;
* an alias of a domain without a DKIM key forwards without a seal (log);
  with an alias of a domain that has one in the same message, that
  domain's set goes on both forwarded copies (one set per message).

dkimpy 1.1.4 limits ARC to rsa-sha256 in one table (ARC_HASH_ALGORITHMS)
though its DKIM code verifies Ed25519 (RFC 8463); the test adds the
entry so that its ARC verifier checks B's Ed25519 seal too.
"""
import hashlib
import os
import re

import pytest

import remote_env as env
from remote_env import harness
from harness import Config, cli_ok, make_message, new_marker

dkim = pytest.importorskip("dkim")
import dkim.crypto  # noqa: E402

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"
A_NAME, B_NAME = "mx.arca.test", "mx.arcb.test"
SENDER = "alice@origin.test"
BOB = "bob@arcb.test"
DAVE = "dave@arcb.test"
CAROL = "carol@arca.test"
PW = "arc-Forward-Secret-4711"


def to_crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def keygen(folder, domain, selector, kind):
    """A key by `sealmail dkim keygen` and its TXT record as zone text
    (quoted strings) and as one string (for dkimpy's dnsfunc)."""
    path = os.path.join(folder, "%s.%s.key" % (domain, selector))
    r = harness.run_cli(None, "dkim", "keygen", "--domain", domain,
                        "--selector", selector, "--type", kind,
                        "--out", path)
    assert r.returncode == 0, r.stderr
    quoted = re.search(r'IN TXT (".*")', r.stdout).group(1)
    return path, quoted, "".join(re.findall(r'"([^"]*)"', quoted))


def config(folder, cert, dns, name, host, mx_port, key, selector, plain):
    cfg = Config(folder, [cert])
    cfg.server["hostname"] = "mx." + name
    cfg.domains = plain
    cfg.listen("mx", "mx", "starttls", host=host, port=mx_port)
    cfg.delivery = {"local": "maildir", "retry_schedule": "1h",
                    "mx_port": str(mx_port)}
    env.set_dns(cfg, dns)
    cfg.extra = ('\n[domain "%s"]\ndkim_selector = %s\ndkim_key = %s\n'
                 '\n[forwarding]\narc = yes\n' % (name, selector, key))
    return cfg


def provision(users, aliases):
    def run(cfg):
        cfg.write()
        for addr in users:
            cli_ok(cfg.path, "user", "add", addr, "--password-stdin",
                   input=PW + "\n")
        for addr, target in aliases:
            cli_ok(cfg.path, "alias", "add", addr, target)
    return run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("arcfwd"))
    keys = os.path.join(base, "keys")
    os.makedirs(keys)
    a_key, a_zone, a_rec = keygen(keys, "arca.test", "s1", "rsa")
    b_key, b_zone, b_rec = keygen(keys, "arcb.test", "s2", "ed25519")
    o_key, o_zone, o_rec = keygen(keys, "origin.test", "o1", "rsa")
    zones = {
        "test": "",     # see remote_env.ZONES
        "arca.test": "@ MX 10 mx\nmx A 127.0.0.1\ns1._domainkey TXT %s\n"
                     % a_zone,
        "arcb.test": "@ MX 10 mx\nmx A 127.0.0.2\ns2._domainkey TXT %s\n"
                     % b_zone,
        "nokey.test": "@ MX 10 mx\nmx A 127.0.0.1\n",
        "origin.test": '@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                       'o1._domainkey TXT %s\n' % o_zone,
    }
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(dnsdir, env.write_zones(
        os.path.join(base, "z"), zones))
    pool = env.Pool()
    errors = []
    try:
        certs = os.path.join(base, "certs")
        mx_port = env.free_port_everywhere((A_HOST, B_HOST))
        a_cfg = config(os.path.join(base, "a"), harness.make_cert(
            certs, "a", cn=A_NAME), dns, "arca.test", A_HOST, mx_port,
            a_key, "s1", ["nokey.test"])
        b_cfg = config(os.path.join(base, "b"), harness.make_cert(
            certs, "b", cn=B_NAME), dns, "arcb.test", B_HOST, mx_port,
            b_key, "s2", [])
        b = pool.start(b_cfg, provision=provision(
            [BOB, DAVE], [("hop@arcb.test", CAROL)]))
        a = pool.start(a_cfg, provision=provision(
            [CAROL], [("fwd@arca.test", BOB), ("twice@arca.test",
                                              "hop@arcb.test"),
                      ("fwd@nokey.test", BOB), ("copy@arca.test", DAVE)]))
        records = {b"s1._domainkey.arca.test.": a_rec,
                   b"s2._domainkey.arcb.test.": b_rec,
                   b"o1._domainkey.origin.test.": o_rec}
        with open(o_key, "rb") as f:
            origin_key = f.read()
        yield {"a": a, "b": b, "records": records, "origin_key": origin_key}
    finally:
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


@pytest.fixture
def ed25519_arc(monkeypatch):
    monkeypatch.setitem(dkim.crypto.ARC_HASH_ALGORITHMS, b"ed25519-sha256",
                        hashlib.sha256)


def send_from_outside(w, rcpts, marker):
    """The sender's own server: DKIM-signs (origin.test) and connects to
    A's mx listener; returns the queue id."""
    msg = make_message(SENDER, ", ".join(rcpts), marker)
    sig = dkim.sign(msg, b"o1", b"origin.test", w["origin_key"],
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"])
    s = env.mailcheck.smtp_connect(w["a"]["mx"])
    try:
        return env.mailcheck.send(s, SENDER, rcpts, sig + msg)
    finally:
        s.quit()


def unfolded_head(raw):
    head = to_crlf(raw).split(b"\r\n\r\n")[0]
    return re.sub(rb"\r\n[ \t]+", b" ", head).decode().split("\r\n")


def fields(raw, name):
    return [ln for ln in unfolded_head(raw)
            if ln.lower().startswith(name.lower() + ":")]


def arc_verify(w, raw):
    def dnsfunc(name, timeout=5):
        return w["records"][name].encode()
    return dkim.arc_verify(to_crlf(raw), dnsfunc=dnsfunc)


def our_authres(raw, authserv_id):
    ar = [f for f in fields(raw, "Authentication-Results")
          if f.split(":", 1)[1].strip().startswith(authserv_id + ";")]
    assert len(ar) == 1, unfolded_head(raw)
    return ar[0]


def test_forwarded_copy_is_sealed_and_verifies(world, ed25519_arc):
    w = world
    marker = new_marker()
    qid = send_from_outside(w, ["fwd@arca.test", CAROL], marker)
    raw = w["b"].mailbox(BOB).wait_for(marker, timeout=30)[0]
    seals = fields(raw, "ARC-Seal")
    assert len(seals) == 1, unfolded_head(raw)
    assert "i=1;" in seals[0] and "cv=none;" in seals[0], seals
    assert "d=arca.test;" in seals[0] and "a=rsa-sha256;" in seals[0]
    aar = fields(raw, "ARC-Authentication-Results")
    assert len(aar) == 1
    # Our verdicts, under our authserv-id.
    assert aar[0].startswith("ARC-Authentication-Results: i=1; %s;" %
                             A_NAME), aar
    assert "spf=pass" in aar[0] and "dkim=pass" in aar[0], aar
    ams = fields(raw, "ARC-Message-Signature")[0]
    h = re.search(r"h=([^;]*);", ams).group(1).replace(" ", "")
    assert "dkim-signature" in h and "delivered-to" not in h, ams
    cv, results, why = arc_verify(w, raw)
    assert cv == b"pass", (cv, why, results)
    assert [r["instance"] for r in results] == [1]
    # B's own chain validation.
    assert "arc=pass" in our_authres(raw, B_NAME), unfolded_head(raw)
    env.wait_log(w["a"], "qid=%s arc sealed domain=arca.test i=1 cv=none"
                 % qid)
    # The copy delivered on A itself carries no ARC set.
    local = w["a"].mailbox(CAROL).wait_for(marker, timeout=30)[0]
    assert not fields(local, "ARC-Seal"), unfolded_head(local)
    assert not fields(local, "ARC-Message-Signature")


def test_forwarded_twice_ends_with_i2_cv_pass(world, ed25519_arc):
    w = world
    marker = new_marker()
    send_from_outside(w, ["twice@arca.test"], marker)
    raw = w["a"].mailbox(CAROL).wait_for(marker, timeout=40)[0]
    seals = fields(raw, "ARC-Seal")
    assert len(seals) == 2, unfolded_head(raw)
    newest = [s for s in seals if "i=2;" in s]
    assert len(newest) == 1 and "cv=pass;" in newest[0], seals
    assert "d=arcb.test;" in newest[0] and "a=ed25519-sha256;" in newest[0]
    aar2 = [f for f in fields(raw, "ARC-Authentication-Results")
            if "i=2;" in f]
    assert aar2 and "%s;" % B_NAME in aar2[0] and "arc=pass" in aar2[0], \
        aar2
    cv, results, why = arc_verify(w, raw)
    assert cv == b"pass", (cv, why, results)
    assert sorted(r["instance"] for r in results) == [1, 2]
    ar = our_authres(raw, A_NAME)
    assert "arc=pass" in ar and "i=2" in ar, ar


def test_domain_without_key_forwards_unsealed(world):
    w = world
    marker = new_marker()
    qid = send_from_outside(w, ["fwd@nokey.test"], marker)
    raw = w["b"].mailbox(BOB).wait_for(marker, timeout=30)[0]
    assert not fields(raw, "ARC-Seal"), unfolded_head(raw)
    env.wait_log(w["a"], "qid=%s arc not sealed: forwarding domain "
                 "nokey.test has no DKIM key" % qid)


def test_several_forwarding_domains_one_set_on_every_copy(world):
    """Aliases of two domains in one message: one set, by the first
    forwarding alias's domain that has a key (nokey.test has none), on
    both forwarded copies."""
    w = world
    marker = new_marker()
    qid = send_from_outside(w, ["fwd@nokey.test", "copy@arca.test"], marker)
    copies = [w["b"].mailbox(BOB).wait_for(marker, timeout=30)[0],
              w["b"].mailbox(DAVE).wait_for(marker, timeout=30)[0]]
    for raw, alias in zip(copies, ("fwd@nokey.test", "copy@arca.test")):
        seals = fields(raw, "ARC-Seal")
        assert len(seals) == 1 and "d=arca.test;" in seals[0], \
            unfolded_head(raw)
        assert arc_verify(w, raw)[0] == b"pass"
        assert "Delivered-To: " + alias in fields(raw, "Delivered-To")
    assert len(env.log_lines(w["a"], "qid=%s arc sealed" % qid)) == 1
