# SPDX-License-Identifier: ISC
"""ARC cross-check: our chain validation (src/auth/arc.c) against dkimpy's
(python3-dkim: dkim.arc_sign / dkim.arc_verify), on chains dkimpy seals
with keys published in a test zone served by NSD.

The test builds tests/auth/drivers/arc_driver.c into a temporary folder
with `cc` against the sources it needs (DRIVER_SOURCES), starts NSD with
tests/dns/dnsserver.py serving its own zone of key records, seals
messages with dkimpy over 1 to 3 hops (rsa-sha256: dkim.arc_sign always
uses it; Ed25519 chains are covered by src/auth/arc_test.c), alters some
(body or header after the newest seal, between hops, an AAR, a missing
field, cv=fail, a missing key) and compares the chain status of both, and
on pass also header.oldest-pass (computed from dkimpy's per-instance AMS
results, §5.2 step 5).

dkimpy returns None instead of "fail" when a seal says cv=fail (it calls
the chain "terminated"); both mean "not pass", and we compare them as
fail.

Run: /usr/bin/python3 -m pytest tests/auth/test_arc_crosscheck.py
(from the repository root; SEALMAIL_SANITIZE=1 builds the driver with
ASan+UBSan; the agreement count is printed with -s).
"""
import base64
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from crosscheck_lib import ROOT, build_driver  # noqa: E402
from crosscheck_lib import run as _run, txt as _txt  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))

dkim = pytest.importorskip("dkim")
pytest.importorskip("authres")   # dkimpy needs it to seal
import dnsserver  # noqa: E402

DRIVER_SOURCES = [
    "src/core/base64.c", "src/core/buf.c", "src/core/log.c",
    "src/core/metrics.c", "src/core/selfpid.c",
    "src/core/xmalloc.c", "src/dns/dns.c", "src/dns/dns_rr.c",
    "src/auth/dkim_sig.c", "src/auth/dkim_key.c", "src/auth/dkim_canon.c",
    "src/msg/idna.c",
    "src/auth/dkim_verify.c", "src/auth/authres.c", "src/auth/arc.c",
    "tests/auth/drivers/arc_driver.c",
]
ZONE = "arcx.test"
# Sealers: (authserv-id and d=, selector, key).
HOPS = [("hop1.arcx.test", "s1", "rsa"), ("hop2.arcx.test", "s2", "rsa"),
        ("hop3.arcx.test", "s3", "r1024")]
AGREE = {"agree": 0, "total": 0}



def _genkey(d, name, bits):
    path = os.path.join(d, name + ".pem")
    _run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
          "rsa_keygen_bits:%d" % bits, "-out", path])
    pub = _run(["openssl", "pkey", "-in", path, "-pubout", "-outform",
                "DER"]).stdout
    with open(path, "rb") as f:
        priv = f.read()
    return priv, "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()



@pytest.fixture(scope="module")
def env(tmp_path_factory):
    for tool in ("cc", "openssl", "nsd", "ldns-signzone"):
        if shutil.which(tool) is None:
            pytest.skip("%s not installed" % tool)
    d = str(tmp_path_factory.mktemp("arc"))
    driver = os.path.join(d, "arc_driver")
    build_driver(DRIVER_SOURCES, driver)
    keys = {"rsa": _genkey(d, "rsa", 2048), "r1024": _genkey(d, "r1024",
                                                             1024)}
    records = {}
    for dom, sel, key in HOPS:
        records["%s._domainkey.%s" % (sel, dom)] = keys[key][1]
    zone = os.path.join(d, ZONE + ".zone")
    with open(zone, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 300\n" % ZONE)
        f.write("@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ NS ns1\nns1 A 127.0.0.1\n")
        for name, rec in records.items():
            f.write("%s. TXT %s\n" % (name, _txt(rec)))
    info = dnsserver.start(os.path.join(d, "dns"), [zone])
    env = {"dir": d, "driver": driver, "keys": keys, "records": records,
           "info": info, "n": 0}
    yield env
    dnsserver.stop(os.path.join(d, "dns"))
    print("\nARC cross-check: %d of %d comparisons agree"
          % (AGREE["agree"], AGREE["total"]))


def dnsfunc_for(env):
    def dnsfunc(name, timeout=5):
        rec = env["records"].get(name.decode().rstrip("."))
        return rec.encode() if rec is not None else None
    return dnsfunc


def ours(env, data):
    env["n"] += 1
    path = os.path.join(env["dir"], "m%d.eml" % env["n"])
    with open(path, "wb") as f:
        f.write(data)
    info = env["info"]
    out = _run([env["driver"], "verify", info["resolver"],
                info["unbound_config"], path]).stdout.decode()
    lines = out.splitlines()
    first = lines[0].split()
    oldest = int(first[2].split("=")[1])
    return first[0], oldest, out


def theirs(env, data):
    cv, results, why = dkim.arc_verify(data, dnsfunc=dnsfunc_for(env))
    status = {b"pass": "pass", b"none": "none"}.get(cv, "fail")
    oldest = -1
    if status == "pass":
        # results are newest first; §5.2 step 5.
        oldest = 0
        for r in results[1:]:
            if not r["ams-valid"]:
                oldest = r["instance"] + 1
                break
    return status, oldest, why


def agree(env, data, expect, oldest=None):
    o = ours(env, data)
    t = theirs(env, data)
    AGREE["total"] += 1
    same = o[0] == t[0] and (o[0] != "pass" or o[1] == t[1])
    if same:
        AGREE["agree"] += 1
    assert same, (o, t)
    assert o[0] == expect, o
    if oldest is not None:
        assert o[1] == oldest, o
    return o


def seal(env, msg, hop, cv="pass", key=None, sel=None):
    """Add the Authentication-Results of hop (arc=cv when the message has
    a chain), then its ARC set, as an intermediary does."""
    dom, s, k = HOPS[hop]
    ar = "Authentication-Results: %s; spf=pass smtp.mailfrom=%s" % (
        dom, "alice@origin.test")
    if b"ARC-Seal:" in msg:
        ar += "; arc=%s" % cv
    msg = ar.encode() + b"\r\n" + msg
    priv = env["keys"][key or k][0]
    fields = dkim.arc_sign(msg, (sel or s).encode(), dom.encode(), priv,
                           dom.encode())
    assert fields, "dkimpy did not seal"
    return b"".join(fields) + msg


HDR = (b"From: Alice <alice@origin.test>\r\n"
       b"To: list@lists.test\r\n"
       b"Subject: weekly  report\r\n"
       b"Date: Mon, 01 Jun 2026 10:00:00 +0000\r\n"
       b"Message-ID: <r1@origin.test>\r\n")
HDR_FOLDED = (b"From: Alice <alice@origin.test>\r\n"
              b"To: list@lists.test,\r\n\tCarol  <carol@example.net>\r\n"
              b"Subject:  a folded \t subject that is long enough to\r\n"
              b" need folding   \r\n"
              b"Date: Mon, 01 Jun 2026 10:00:00 +0000\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Message-ID: <r2@origin.test>\r\n")
MESSAGES = {
    "plain": HDR + b"\r\nHello list.\r\n\r\nBye.\r\n",
    "folded": HDR_FOLDED + b"\r\n\xc3\xa9t\xc3\xa9  \t 8-bit \r\n\r\n\r\n",
}


def add_footer(msg):
    return msg + b"--\r\nlists.test: unsubscribe here\r\n"


def split(msg):
    h, b = msg.split(b"\r\n\r\n", 1)
    return h, b


def test_unsigned(env):
    agree(env, MESSAGES["plain"], "none")


@pytest.mark.parametrize("name", sorted(MESSAGES))
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_chain_pass_and_tamper(env, name, hops):
    msg = MESSAGES[name]
    for hop in range(hops):
        msg = seal(env, msg, hop)
    o = agree(env, msg, "pass", oldest=0)
    assert "arc=pass (i=%d)" % hops in o[2]
    h, b = split(msg)
    agree(env, h + b"\r\n\r\nInjected line.\r\n" + b, "fail")
    agree(env, msg.replace(b"Subject: ", b"Subject: Re: ", 1).replace(
        b"Subject:  a", b"Subject:  A", 1), "fail")


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_modified_between_hops(env, name):
    # A mailing list adds a footer and a subject tag, then seals: the
    # chain still passes; the oldest AMS that validates is the list's.
    msg = seal(env, MESSAGES[name], 0)
    msg = add_footer(msg)
    msg = msg.replace(b"Subject: weekly", b"Subject: [list] weekly", 1)
    msg = seal(env, msg, 1)
    agree(env, msg, "pass", oldest=2)
    msg = seal(env, msg, 2)
    agree(env, msg, "pass", oldest=2)


def test_broken_seal_and_structure(env):
    msg = seal(env, seal(env, MESSAGES["plain"], 0), 1)
    # The first AAR is covered by the seals, not by an AMS.
    bad = msg.replace(b"i=1; hop1.arcx.test; spf=pass",
                      b"i=1; hop1.arcx.test; spf=fail", 1)
    assert bad != msg
    agree(env, bad, "fail")
    # Set 1 without its AMS.
    lines = msg.split(b"\r\n")
    start = next(i for i, x in enumerate(lines)
                 if x.startswith(b"ARC-Message-Signature: i=1;"))
    end = start + 1
    while lines[end][:1] in (b" ", b"\t"):
        end += 1
    agree(env, b"\r\n".join(lines[:start] + lines[end:]), "fail")


def test_cv_fail(env):
    # The second hop found the chain broken: it seals with cv=fail.
    msg = seal(env, MESSAGES["plain"], 0)
    msg = seal(env, msg, 1, cv="fail")
    assert b"cv=fail" in msg
    agree(env, msg, "fail")
    # A third hop seals it as pass anyway: cv=fail mid-chain.
    agree(env, seal(env, msg, 2, cv="pass"), "fail")


def test_keys(env):
    # A selector that is not published: the seal cannot be checked.
    msg = seal(env, MESSAGES["plain"], 0, sel="gone")
    agree(env, msg, "fail")
    # A 1024-bit key is accepted (RFC 8301 §3.2).
    agree(env, seal(env, MESSAGES["plain"], 2), "pass")
