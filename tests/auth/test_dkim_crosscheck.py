# SPDX-License-Identifier: ISC
"""DKIM cross-check: our verifier and signer against dkimpy (python3-dkim)
and OpenDKIM (opendkim-testmsg), on the same keys and messages.

The test builds tests/auth/drivers/dkim_driver.c into a temporary folder
with `cc` against the sources it needs (DRIVER_SOURCES), starts NSD with
tests/dns/dnsserver.py serving the test's own zone of key records, and:

* signs messages with dkimpy (rsa-sha256 and ed25519-sha256, every
  canonicalization pair, with and without l=, folded headers, 8-bit
  bodies) and checks that ours and dkimpy agree: unaltered messages pass,
  altered headers or bodies fail, text appended after l= still passes;
* checks key policy cases (1024-bit key passes, 512-bit key, revoked key,
  missing key all fail in both);
* signs messages with ours (ed25519 + rsa together) and verifies every
  signature with dkimpy, and with opendkim-testmsg one key at a time.

opendkim-testmsg resolves through /etc/resolv.conf on port 53 and has no
option to change that, so for it the test forwards 127.0.0.1:53 to NSD and
runs it under `unshare --mount` with a private resolv.conf. That needs
root and a free port 53 (true inside `make test`'s `unshare --net`);
otherwise only the OpenDKIM part is skipped.

Run: /usr/bin/python3 -m pytest tests/auth/test_dkim_crosscheck.py
(from the repository root; SEALMAIL_SANITIZE=1 builds the driver with
ASan+UBSan; a short summary with the agreement count is
printed with -s).
"""
import os
import select
import shutil
import socket
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from crosscheck_lib import ROOT, build_driver  # noqa: E402
from crosscheck_lib import genkey as _genkey  # noqa: E402
from crosscheck_lib import run as _run, txt as _txt  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))

dkim = pytest.importorskip("dkim")
import dnsserver  # noqa: E402

DRIVER_SOURCES = [
    "src/core/base64.c", "src/core/buf.c", "src/core/log.c",
    "src/core/metrics.c", "src/core/selfpid.c",
    "src/core/xmalloc.c", "src/dns/dns.c", "src/dns/dns_rr.c",
    "src/auth/dkim_sig.c", "src/auth/dkim_key.c", "src/auth/dkim_canon.c",
    "src/msg/idna.c",
    "src/auth/dkim_verify.c", "src/auth/dkim_sign.c", "src/keys/keyop.c",
    "tests/auth/drivers/dkim_driver.c",
]
DOMAIN = "dkimx.test"
AGREE = {"agree": 0, "total": 0}



@pytest.fixture(scope="module")
def env(tmp_path_factory):
    for tool in ("cc", "openssl", "nsd", "ldns-signzone"):
        if shutil.which(tool) is None:
            pytest.skip("%s not installed" % tool)
    d = str(tmp_path_factory.mktemp("dkim"))
    driver = os.path.join(d, "dkim_driver")
    build_driver(DRIVER_SOURCES, driver)
    keys = {
        "ed": _genkey(d, "ed", "ed25519"),
        "rsa": _genkey(d, "rsa", "rsa", 2048),
        "r1024": _genkey(d, "r1024", "rsa", 1024),
        "small": _genkey(d, "small", "rsa", 512),
    }
    records = {sel: k[1] for sel, k in keys.items()}
    records["revoked"] = "v=DKIM1; k=rsa; p="
    zone = os.path.join(d, DOMAIN + ".zone")
    with open(zone, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 300\n" % DOMAIN)
        f.write("@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ NS ns1\nns1 A 127.0.0.1\n")
        for sel, rec in records.items():
            f.write("%s._domainkey TXT %s\n" % (sel, _txt(rec)))
    info = dnsserver.start(os.path.join(d, "dns"), [zone])
    env = {"dir": d, "driver": driver, "keys": keys, "records": records,
           "info": info, "n": 0}
    yield env
    dnsserver.stop(os.path.join(d, "dns"))
    print("\nDKIM cross-check: %d of %d comparisons agree"
          % (AGREE["agree"], AGREE["total"]))


def dnsfunc_for(env):
    def dnsfunc(name, timeout=5):
        sel = name.decode().split("._domainkey.")[0]
        rec = env["records"].get(sel)
        return rec.encode() if rec is not None else None
    return dnsfunc


def write_msg(env, data):
    env["n"] += 1
    path = os.path.join(env["dir"], "m%d.eml" % env["n"])
    with open(path, "wb") as f:
        f.write(data)
    return path


def ours_verify(env, data):
    info = env["info"]
    out = _run([env["driver"], "verify", info["resolver"],
                info["unbound_config"], write_msg(env, data)])
    return [line.split() for line in out.stdout.decode().splitlines()]


def py_verify(env, data, idx=0):
    d = dkim.DKIM(data, minkey=1024)
    try:
        return bool(d.verify(idx=idx, dnsfunc=dnsfunc_for(env)))
    except dkim.DKIMException:
        return False


def agree(env, data, expect):
    """Ours and dkimpy both give expect (pass or not) on signature 0."""
    ours = ours_verify(env, data)
    ours_pass = ours[0][0] == "pass"
    theirs = py_verify(env, data)
    AGREE["total"] += 1
    if ours_pass == theirs:
        AGREE["agree"] += 1
    assert ours_pass == theirs, (ours, theirs, data[:400])
    assert ours_pass == expect, (ours, data[:400])
    return ours[0]


HDR_PLAIN = (b"From: Alice <alice@dkimx.test>\r\n"
             b"To: Bob <bob@example.net>\r\n"
             b"Subject: hello\r\n"
             b"Date: Mon, 01 Jun 2026 10:00:00 +0000\r\n"
             b"Message-ID: <a1@dkimx.test>\r\n")
HDR_FOLDED = (b"From: Alice <alice@dkimx.test>\r\n"
              b"To: Bob <bob@example.net>,\r\n\tCarol  <carol@example.net>,"
              b"\r\n   Dave <dave@example.net>\r\n"
              b"Subject:  a folded \t subject that is long enough to\r\n"
              b" need folding   \r\n"
              b"Date: Mon, 01 Jun 2026 10:00:00 +0000\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: 8bit\r\n"
              b"Message-ID: <a2@dkimx.test>\r\n")
MESSAGES = {
    "plain": HDR_PLAIN + b"\r\nHello Bob.\r\n\r\nBye.\r\n",
    "folded": HDR_FOLDED + b"\r\nBody  with \t spaces   \r\nand lines\r\n",
    "8bit": HDR_FOLDED + b"\r\n\xc3\xa9t\xc3\xa9 \xe2\x82\xac 100\r\n"
                         b"\xff\xfe raw 8-bit\r\n",
    "trailing": HDR_PLAIN + b"\r\nx \r\n\t\r\n\r\n\r\n\r\n",
    "empty": HDR_PLAIN + b"\r\n",
}
CANONS = [(b"simple", b"simple"), (b"relaxed", b"relaxed"),
          (b"relaxed", b"simple"), (b"simple", b"relaxed")]
ALGS = {"ed": b"ed25519-sha256", "rsa": b"rsa-sha256"}


def py_sign(env, msg, sel, canon, length=False):
    priv = env["keys"][sel][2]
    alg = b"ed25519-sha256" if sel == "ed" else b"rsa-sha256"
    sig = dkim.sign(msg, sel.encode(), DOMAIN.encode(), priv,
                    canonicalize=canon, signature_algorithm=alg,
                    length=length)
    return sig + msg


def alter_header(msg):
    return msg.replace(b"Subject: ", b"Subject: Re: ", 1).replace(
        b"Subject:  a", b"Subject:  A", 1)


def alter_body(msg):
    h, b = msg.split(b"\r\n\r\n", 1)
    return h + b"\r\n\r\n" + b"Injected line.\r\n" + b


@pytest.mark.parametrize("sel", sorted(ALGS))
@pytest.mark.parametrize("canon", CANONS, ids=lambda c: b"/".join(c).decode())
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_dkimpy_signed(env, sel, canon, name):
    signed = py_sign(env, MESSAGES[name], sel, canon)
    r = agree(env, signed, True)
    assert r[3] == "a=" + ALGS[sel].decode()
    agree(env, alter_header(signed), False)
    agree(env, alter_body(signed), False)


@pytest.mark.parametrize("sel", sorted(ALGS))
@pytest.mark.parametrize("canon", CANONS[:2], ids=lambda c: c[0].decode())
@pytest.mark.parametrize("name", ["plain", "8bit"])
def test_dkimpy_signed_length(env, sel, canon, name):
    signed = py_sign(env, MESSAGES[name], sel, canon, length=True)
    assert b"l=" in signed
    agree(env, signed, True)
    # l= leaves what follows the signed length unprotected (§8.2).
    agree(env, signed + b"Appended after the signed length.\r\n", True)
    agree(env, alter_body(signed), False)


@pytest.mark.parametrize("sel,expect", [("r1024", True), ("small", False)])
def test_key_size_policy(env, sel, expect):
    msg = py_sign(env, MESSAGES["plain"], sel, CANONS[1])
    r = agree(env, msg, expect)
    if not expect:
        assert r[0] == "policy"


@pytest.mark.parametrize("sel,result", [("revoked", "fail"),
                                        ("nokey", "permerror")])
def test_missing_or_revoked_key(env, sel, result):
    # Signed with a real key but published under another selector.
    msg = py_sign(env, MESSAGES["plain"], "rsa", CANONS[1])
    msg = msg.replace(b"s=rsa;", b"s=%s;" % sel.encode(), 1)
    assert agree(env, msg, False)[0] == result


def test_unsigned_and_sha1(env):
    assert ours_verify(env, MESSAGES["plain"]) == [["none"]]
    priv = env["keys"]["rsa"][2]
    msg = dkim.sign(MESSAGES["plain"], b"rsa", DOMAIN.encode(), priv,
                    signature_algorithm=b"rsa-sha1") + MESSAGES["plain"]
    assert ours_verify(env, msg)[0][0] == "policy"


def ours_sign(env, msg, sels):
    spec = ",".join("%s:%s" % (s, env["keys"][s][0]) for s in sels)
    out = _run([env["driver"], "sign", DOMAIN, spec, write_msg(env, msg)])
    return out.stdout


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_ours_signed_dkimpy(env, name):
    signed = ours_sign(env, MESSAGES[name], ["ed", "rsa"])
    ours = ours_verify(env, signed)
    assert [r[0] for r in ours] == ["pass", "pass"]
    for idx in (0, 1):
        AGREE["total"] += 1
        ok = py_verify(env, signed, idx)
        AGREE["agree"] += ok
        assert ok, (idx, signed[:600])
    # No folded line is longer than 78 columns.
    hdr = signed.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in hdr.split(b"\r\n")
               if line.startswith((b"DKIM", b"\t")))
    bad = alter_header(signed)
    if bad != signed:
        assert [r[0] for r in ours_verify(env, bad)] == ["fail", "fail"]
        assert not py_verify(env, bad, 0) and not py_verify(env, bad, 1)


class _Forwarder:
    """127.0.0.1:53 (UDP and TCP) -> NSD, for opendkim-testmsg."""

    def __init__(self, port):
        self.port = port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind(("127.0.0.1", 53))
        self.tcp.bind(("127.0.0.1", 53))
        self.tcp.listen(8)
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _udp_one(self):
        q, peer = self.udp.recvfrom(65535)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(q, ("127.0.0.1", self.port))
            self.udp.sendto(s.recv(65535), peer)

    def _tcp_one(self):
        c, _ = self.tcp.accept()
        with c, socket.create_connection(("127.0.0.1", self.port), 2) as s:
            c.settimeout(2)
            n = int.from_bytes(c.recv(2, socket.MSG_WAITALL), "big")
            s.sendall(n.to_bytes(2, "big") + c.recv(n, socket.MSG_WAITALL))
            n = int.from_bytes(s.recv(2, socket.MSG_WAITALL), "big")
            c.sendall(n.to_bytes(2, "big") + s.recv(n, socket.MSG_WAITALL))

    def _loop(self):
        while not self.stop:
            r, _, _ = select.select([self.udp, self.tcp], [], [], 0.2)
            for sock in r:
                try:
                    (self._udp_one if sock is self.udp else self._tcp_one)()
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.udp.close()
        self.tcp.close()


@pytest.fixture(scope="module")
def opendkim(env):
    if shutil.which("opendkim-testmsg") is None:
        pytest.skip("opendkim-tools not installed")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("opendkim-testmsg needs root for a private resolv.conf")
    try:
        fwd = _Forwarder(env["info"]["port"])
    except OSError as e:
        pytest.skip("port 53 not free for opendkim-testmsg: %s" % e)
    conf = os.path.join(env["dir"], "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    yield conf
    fwd.close()


def opendkim_verify(conf, data):
    p = subprocess.run(
        ["unshare", "--mount", "sh", "-c",
         'mount --bind "$0" /etc/resolv.conf && exec opendkim-testmsg',
         conf], input=data, capture_output=True, timeout=30)
    return p.returncode == 0 and p.stderr == b"", p.stderr


@pytest.mark.parametrize("sel", sorted(ALGS))
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_ours_signed_opendkim(env, opendkim, sel, name):
    signed = ours_sign(env, MESSAGES[name], [sel])
    ok, err = opendkim_verify(opendkim, signed)
    AGREE["total"] += 1
    AGREE["agree"] += ok
    assert ok, err
    bad, _ = opendkim_verify(opendkim, alter_body(signed))
    assert not bad
