# SPDX-License-Identifier: ISC
"""`sealmail arc sign` (issue 12 item 6) checked by an independent ARC
verifier, dkimpy's arc_verify (python3-dkim), with keys the test
publishes in a zone of its own (NSD, tests/dns/dnsserver.py) for the
CLI's chain validation, and hands to dkimpy through a dnsfunc.

* a message without a chain: the CLI needs no configuration; the set it
  prints (i=1, cv=none), prepended, passes dkimpy;
* a second seal on top (the CLI validates the chain through DNS):
  i=2, cv=pass, passes dkimpy; with RSA and Ed25519 keys, and mixed;
* a chain broken after the first seal: the next set says cv=fail and
  dkimpy fails the chain; a chain whose newest seal says cv=fail is not
  sealed again (RFC 8617 §5.1 step 2);
* a chain and no usable configuration: a one-line error.

dkimpy 1.1.4 limits ARC to rsa-sha256 in one table (ARC_HASH_ALGORITHMS)
though its DKIM code verifies Ed25519 (RFC 8463); the test adds the entry
so that its ARC verifier checks our Ed25519 seals as well.
"""
import hashlib
import os
import re
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

dkim = pytest.importorskip("dkim")
import dkim.crypto  # noqa: E402
import dnsserver  # noqa: E402
import harness  # noqa: E402
from harness import Config, make_cert  # noqa: E402

ZONE = "arcs.test"
SOA = """$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
"""
MESSAGE = ("From: Alice <alice@origin.test>\n"
           "To: list@arcs.test\n"
           "Subject: sealed  by the CLI\n"
           "Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
           "Message-ID: <arcsign@origin.test>\n"
           "\n"
           "Hello,\n\n  a body with  spaces.\n\n\n")

pytestmark = pytest.mark.skipif(not dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("arcsign"))
    keys, records, zone = {}, {}, ""
    for sel, kind in (("r1", "rsa"), ("e1", "ed25519")):
        path = os.path.join(base, sel + ".key")
        r = harness.run_cli(None, "dkim", "keygen", "--domain", ZONE,
                            "--selector", sel, "--type", kind, "--out", path)
        assert r.returncode == 0, r.stderr
        quoted = re.search(r'IN TXT (".*")', r.stdout).group(1)
        zone += "%s._domainkey TXT %s\n" % (sel, quoted)
        keys[sel] = path
        records[("%s._domainkey.%s." % (sel, ZONE)).encode()] = \
            "".join(re.findall(r'"([^"]*)"', quoted)).encode()
    zdir = os.path.join(base, "zones")
    os.makedirs(zdir)
    files = []
    for name, body in (("test", ""), (ZONE, zone)):
        p = os.path.join(zdir, name + ".zone")
        with open(p, "w") as f:
            f.write("$ORIGIN %s.\n" % name + SOA + body)
        files.append(p)
    dnsdir = os.path.join(base, "dns")
    info = dnsserver.start(dnsdir, files)
    try:
        cfg = Config(os.path.join(base, "cfg"), [make_cert(base, "ec")])
        cfg.listen("mx", "mx", "starttls")     # required; never started
        cfg.dns = {"resolver": info["resolver"], "trust_anchor": "",
                   "unbound_config": info["unbound_config"]}
        cfg.write()
        yield {"keys": keys, "records": records, "cfg": cfg.path,
               "base": base}
    finally:
        dnsserver.stop(dnsdir)


@pytest.fixture(autouse=True)
def ed25519_arc(monkeypatch):
    monkeypatch.setitem(dkim.crypto.ARC_HASH_ALGORITHMS, b"ed25519-sha256",
                        hashlib.sha256)


def sign(env, msg, sel, cfg=None, *extra):
    """`sealmail arc sign` on msg (text, LF) read from stdin."""
    return harness.run_cli(cfg, "arc", "sign", "--domain", ZONE,
                           "--selector", sel, "--key", env["keys"][sel],
                           *extra, "-", input=msg)


def sealed(env, msg, sel, cfg=None):
    r = sign(env, msg, sel, cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ARC-Seal: "), r.stdout
    return r.stdout + msg


def verify(env, msg):
    crlf = msg.replace("\n", "\r\n").encode()
    return dkim.arc_verify(crlf, dnsfunc=lambda n, timeout=5:
                           env["records"][n])


def field_of(msg, name, i):
    head = re.sub(r"\n[ \t]+", " ", msg.split("\n\n")[0])
    return [ln for ln in head.split("\n")
            if ln.startswith("%s: i=%d;" % (name, i))]


def seal_of(msg, i):
    return field_of(msg, "ARC-Seal", i)


@pytest.mark.parametrize("first,second", [("r1", "r1"), ("e1", "e1"),
                                          ("r1", "e1")])
def test_one_then_two_seals_verify_with_dkimpy(env, first, second):
    # No chain: no configuration needed (the path does not exist).
    one = sealed(env, MESSAGE, first, cfg="/nonexistent/sealmail.conf")
    assert "cv=none;" in seal_of(one, 1)[0]
    cv, res, why = verify(env, one)
    assert cv == b"pass", (why, res)
    assert [r["instance"] for r in res] == [1]
    # A forwarder's trace field in between, then the second seal.
    one = "Received: from hop1 by hop2; Thu, 1 Jan 2026 00:00:01 +0000\n" + \
        one
    two = sealed(env, one, second, cfg=env["cfg"])
    assert "cv=pass;" in seal_of(two, 2)[0]
    aar = field_of(two, "ARC-Authentication-Results", 2)
    assert aar and "arc=pass" in aar[0], two
    cv, res, why = verify(env, two)
    assert cv == b"pass", (why, res)
    assert sorted(r["instance"] for r in res) == [1, 2]


def test_broken_chain_sealed_cv_fail_then_not_again(env):
    one = sealed(env, MESSAGE, "r1")
    broken = one.replace("a body with", "a body WITH")
    assert verify(env, broken)[0] == b"fail"
    two = sealed(env, broken, "e1", cfg=env["cfg"])
    assert "cv=fail;" in seal_of(two, 2)[0], two
    assert verify(env, two)[0] != b"pass"
    r = sign(env, two, "r1", env["cfg"])
    assert r.returncode == 1 and r.stdout == "", r.stdout
    assert "not sealed" in r.stderr and "cv=fail" in r.stderr, r.stderr


def test_chain_without_configuration_is_an_error(env):
    one = sealed(env, MESSAGE, "e1")
    r = sign(env, one, "e1", "/nonexistent/sealmail.conf")
    assert r.returncode == 1 and r.stdout == ""
    assert "ARC chain" in r.stderr and "DNS" in r.stderr, r.stderr


def test_fixed_time_and_authserv_id(env):
    r = sign(env, MESSAGE, "e1", None, "--time", "1700000000",
             "--authserv-id", "mx.arcs.test")
    assert r.returncode == 0, r.stderr
    fields = re.sub(r"\n[ \t]+", " ", r.stdout).splitlines()
    assert [f.split(":")[0] for f in fields] == [
        "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]
    assert fields[0].startswith("ARC-Seal: i=1; cv=none; a=ed25519-sha256; "
                                "d=arcs.test; s=e1; t=1700000000; b=")
    assert fields[2] == ("ARC-Authentication-Results: i=1; mx.arcs.test; "
                         "arc=none")
    # Ed25519 is deterministic: the same input, the same set.
    again = sign(env, MESSAGE, "e1", None, "--time", "1700000000",
                 "--authserv-id", "mx.arcs.test")
    assert again.stdout == r.stdout
    bad = sign(env, MESSAGE, "e1", None, "--time", "soon")
    assert bad.returncode == 2
