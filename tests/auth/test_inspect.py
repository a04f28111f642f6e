# SPDX-License-Identifier: ISC
"""`sealmail inspect` on the sample messages in tests/data/inspect/.

Runs the real binary ($SEALMAIL_BIN, default build/sealmail of this tree)
and checks the text output (hops oldest first, TLS per hop, plaintext hops
flagged, Authentication-Results, DKIM-Signature, verdict), the --json
output, escaping of hostile header text, stdin, usage errors and the size
bound. --verify is checked against DKIM signatures made by dkimpy
(python3-dkim) with keys served by NSD (tests/dns/dnsserver.py).

Run: /usr/bin/python3 -m pytest tests/auth/test_inspect.py (from the
repository root; the --verify test needs nsd and python3-dkim).
"""
import base64
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "inspect")
BIN = os.environ.get("SEALMAIL_BIN") or os.path.join(ROOT, "build",
                                                     "sealmail")
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))


def inspect(*args, stdin=None, config=None):
    cmd = [BIN] + (["-c", config] if config else []) + ["inspect"] + \
        list(args)
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    return subprocess.run(cmd, input=stdin, capture_output=True,
                          timeout=60, env=env)


def text(name, *args):
    r = inspect(os.path.join(DATA, name), *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode("utf-8")


def js(name, *args, **kw):
    r = inspect(os.path.join(DATA, name), "--json", *args, **kw)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module", autouse=True)
def binary():
    if not os.access(BIN, os.X_OK):
        pytest.skip("%s not built (make)" % BIN)


def test_all_hops_encrypted():
    out = text("two_hops_tls.eml")
    lines = out.splitlines()
    hops = [i for i, l in enumerate(lines) if l.startswith("  1. ") or
            l.startswith("  2. ")]
    # Oldest first: the submission hop, then the MX hop.
    assert "laptop.isp.example [203.0.113.50] -> smtp.sender.example" in \
        lines[hops[0]]
    assert "smtp.sender.example [198.51.100.25] -> mx.example.org" in \
        lines[hops[1]]
    assert "with: ESMTPSA (authenticated)" in out
    assert "encrypted: yes, TLSv1.3, TLS_AES_128_GCM_SHA256, 128 bits" in out
    assert "encrypted: yes, TLSv1.3, TLS_AES_256_GCM_SHA384, 256 bits" in out
    assert "(+2s)" in out
    assert "  by mx.example.org:" in out
    assert "    dkim=pass header.d=sender.example header.s=s1" in out
    assert "d=sender.example s=s1 a=ed25519-sha256" in out
    assert "--verify" in out           # the slot for verification
    assert lines[-1] == "Verdict: all 2 hops encrypted (TLS 1.3)"
    assert "\x1b" not in out           # no colours when not a tty


def test_all_hops_encrypted_json():
    d = js("two_hops_tls.eml")
    assert d["subject"] == "Quarterly numbers"
    assert d["message_id"] == "<20240514072105.1234@laptop.isp.example>"
    h = d["hops"]
    assert [x["hop"] for x in h] == [1, 2]
    assert h[0]["from"] == "[192.168.1.20]"
    assert h[0]["from_rdns"] == "laptop.isp.example"
    assert h[0]["from_ip"] == "203.0.113.50"
    assert h[0]["by"] == "smtp.sender.example"
    assert h[0]["with"] == "ESMTPSA" and h[0]["authenticated"] is True
    assert h[0]["encrypted"] == "yes" and h[0]["tls_version"] == "TLSv1.3"
    assert h[0]["tls_group"] == "x25519" and h[0]["tls_bits"] == 128
    assert h[0]["timestamp"] == 1715671267
    assert h[0]["evidence"] == ["protocol", "tls-clause", "comment"]
    assert h[1]["tls_cipher"] == "TLS_AES_256_GCM_SHA384"
    assert h[1]["for"] == "<bob@example.org>" and h[1]["via"] is None
    ar = d["authentication_results"]
    assert len(ar) == 1 and ar[0]["authserv_id"] == "mx.example.org"
    assert [(r["method"], r["result"]) for r in ar[0]["results"]] == \
        [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")]
    assert {"ptype": "smtp", "property": "mailfrom",
            "value": "sender.example"} in ar[0]["results"][0]["properties"]
    sig = d["dkim_signatures"]
    assert len(sig) == 1
    assert (sig[0]["d"], sig[0]["s"], sig[0]["a"]) == \
        ("sender.example", "s1", "ed25519-sha256")
    assert sig[0]["verify"] is None and d["dkim_verify"] is None
    assert d["verdict"] == {"status": "encrypted",
                            "text": "all 2 hops encrypted (TLS 1.3)"}


def test_plaintext_hop_flagged():
    out = text("plaintext_hop.eml")
    assert "encrypted: NO - plaintext hop" in out
    # Exim's "(TLS1.2) tls CIPHER" on the middle hop.
    assert "encrypted: yes, TLSv1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" \
        in out
    assert "[203.0.113.50] (helo [192.168.1.20]) -> smtp.sender.example" \
        in out
    assert out.splitlines()[-1] == ("Verdict: hop 3 (relay.example.net "
                                    "[203.0.113.9] -> mx.example.org) was "
                                    "NOT encrypted")
    d = js("plaintext_hop.eml")
    assert [h["encrypted"] for h in d["hops"]] == ["yes", "yes", "no"]
    assert d["hops"][2]["evidence"] == ["protocol"]
    assert d["verdict"]["status"] == "not_encrypted"


def test_vendor_formats_crlf():
    out = text("vendors_crlf.eml")
    assert "encrypted: NO (local hop)" in out
    assert "with: Microsoft SMTP Server" in out
    assert "encrypted: yes, TLSv1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" \
        in out
    assert "encrypted: yes, TLSv1.3, TLS_AES_256_GCM_SHA384, 256 bits" in out
    assert 'dkim=fail header.d=contoso.example reason="signature ' \
        'verification failed"' in out
    d = js("vendors_crlf.eml")
    assert [h["local"] for h in d["hops"]] == [True, False, False, False]
    assert d["hops"][1]["from_ip"] == "2001:db8:208:1::12"
    assert d["hops"][3]["with"] == "LMTPS"
    assert d["verdict"] == {
        "status": "encrypted",
        "text": "all 3 hops encrypted (TLS 1.3/1.2); 1 local hop not "
                "counted"}


def test_unknown_hop():
    d = js("unknown_hop.eml")
    assert [h["encrypted"] for h in d["hops"]] == ["unknown", "yes"]
    assert d["verdict"]["status"] == "unknown"
    assert d["verdict"]["text"].startswith("1 of 2 hops encrypted (TLS 1.3)")
    assert "hop 1 (inside.example.net -> gw.example.net) does not say" in \
        d["verdict"]["text"]


def test_no_received():
    out = text("no_received.eml")
    assert "Hops, oldest first (0):\n  (none)" in out
    d = js("no_received.eml")
    assert d["hops"] == [] and d["verdict"]["status"] == "no_hops"


def test_hostile_headers_escaped():
    raw = inspect(os.path.join(DATA, "hostile.eml")).stdout
    # No terminal control sequence, C1 control or bidi override gets out.
    for bad in (b"\x1b", b"\x07", b"\x9b", b"\xc2\x9b", b"\xe2\x80\xae",
                b"\xff"):
        assert bad not in raw, bad
    out = raw.decode("utf-8")
    assert "\\x1b[2J" in out and "\\xe2\\x80\\xae" in out
    # The HELO that imitates a Postfix TLS comment is not believed.
    assert "was NOT encrypted" in out.splitlines()[-1]
    assert "a TLS claim in the field was ignored" in out
    d = js("hostile.eml")
    assert "conflict" in d["hops"][1]["evidence"]
    assert d["hops"][1]["encrypted"] == "no"
    assert d["hops"][1]["tls_version"] is None
    assert d["hops"][0]["odd"] is True
    assert "\x1b[2J" in d["subject"]          # escaped in JSON, then decoded
    assert "\ufffd" in d["from"]              # invalid UTF-8 replaced
    assert d["dkim_signatures"][0]["syntax_error"] is not None


def test_stdin_and_lf_crlf_agree():
    path = os.path.join(DATA, "two_hops_tls.eml")
    with open(path, "rb") as f:
        lf = f.read()
    a = json.loads(inspect("-", "--json", stdin=lf).stdout)
    b = json.loads(inspect("-", "--json",
                           stdin=lf.replace(b"\n", b"\r\n")).stdout)
    c = js("two_hops_tls.eml")
    assert a["file"] == "-"
    for d in (a, b):
        d["file"] = c["file"]
    assert a == b == c


@pytest.mark.parametrize("args", [[], ["--bogus", "x.eml"],
                                  ["-", "-"], ["--json"]])
def test_usage(args):
    r = inspect(*args)
    assert r.returncode == 2
    assert b"usage: sealmail inspect" in r.stderr


def test_missing_file():
    r = inspect("/nonexistent/message.eml")
    assert r.returncode == 1
    assert r.stderr.decode().count("\n") == 1
    assert r.stdout == b""


def test_several_files():
    """A Maildir's new/* (the README's example): every file reported, in
    order; a JSON array with --json; an unreadable one named on stderr,
    the others still shown, exit 1."""
    a = os.path.join(DATA, "two_hops_tls.eml")
    b = os.path.join(DATA, "plaintext_hop.eml")
    r = inspect(a, b)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.count("Message: ") == 2
    assert out.index("Message: " + a) < out.index("Message: " + b)
    assert out.count("Verdict: ") == 2
    r = inspect("--json", a, b)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [d["file"] for d in doc] == [a, b]
    r = inspect(a, "/nonexistent/m.eml", b)
    assert r.returncode == 1
    assert r.stdout.decode().count("Verdict: ") == 2
    assert "/nonexistent/m.eml" in r.stderr.decode()


def test_several_files_json_stays_json(tmp_path):
    """With --json, a file that cannot be read, or whose report was shown
    but whose --verify could not run, still leaves one valid JSON array
    of the reports shown."""
    a = os.path.join(DATA, "two_hops_tls.eml")
    b = os.path.join(DATA, "plaintext_hop.eml")
    for files in ([a, "/nonexistent/m.eml", b], [a, b, "/nonexistent/m"],
                  ["/nonexistent/m", a, b]):
        r = inspect("--json", *files)
        assert r.returncode == 1
        assert [d["file"] for d in json.loads(r.stdout)] == [a, b], files
    # two_hops_tls.eml is signed: --verify without a configuration fails
    # but the report is printed, and it needs its separator like any other.
    r = inspect("--json", "--verify", a, a, config=str(tmp_path / "no.conf"))
    assert r.returncode == 1
    assert [d["file"] for d in json.loads(r.stdout)] == [a, a]


def test_directory_is_named():
    r = inspect(DATA)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("sealmail: %s: " % DATA), err
    assert err.count("\n") == 1


def test_long_dkim_tags_are_cut():
    # a= was copied with the size of the d= buffer into a smaller one: a
    # long value overflowed the stack (found by fuzz_inspect).
    msg = ("DKIM-Signature: v=1; d=example.org; s=" + "s" * 200 +
           "; a=" + "a" * 200 + "; b=AAAA\r\nFrom: x@example.org\r\n"
           "\r\nbody\r\n").encode()
    r = inspect("-", "--json", stdin=msg)
    assert r.returncode == 0, r.stderr
    sig = json.loads(r.stdout)["dkim_signatures"][0]
    assert sig["d"] == "example.org"
    assert sig["s"] == "s" * 200
    assert 0 < len(sig["a"]) <= 63 and set(sig["a"]) == {"a"}
    r = inspect("-", stdin=msg)
    assert r.returncode == 0, r.stderr
    assert b"example.org" in r.stdout and b"a" * 64 not in r.stdout


def test_received_bomb_says_what_was_not_read():
    """50,000 Received fields: only the newest 100 are read. The report
    must not call those "oldest first" of the whole chain nor say "all
    hops encrypted", and it says how many were not read."""
    fields = ["Received: from h%d.example (h%d.example [192.0.2.1]) by "
              "h%d.example with ESMTPS id x%d; Sat, 5 Dec 2026 09:00:00 "
              "+0000" % (i, i, i + 1, i) for i in range(50000)]
    msg = ("\r\n".join(fields) + "\r\nSubject: s\r\n\r\nbody\r\n").encode()
    r = inspect("-", stdin=msg)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Hops, oldest first" not in out
    assert "the newest 100, oldest of them first" in out
    assert "at least 900 older hops not read" in out
    verdict = [ln for ln in out.splitlines() if ln.startswith("Verdict:")]
    assert "all 100 hops" not in verdict[0], verdict
    assert "not read" in verdict[0], verdict
    r = inspect("--json", "-", stdin=msg)
    doc = json.loads(r.stdout)
    assert len(doc["hops"]) == 100
    assert doc["hops_skipped"] == 900
    assert doc["hops_skipped_exact"] is False
    assert doc["verdict"]["status"] != "encrypted"
    # Under the header limits the count is exact.
    small = ("\r\n".join(fields[:150]) +
             "\r\nSubject: s\r\n\r\nbody\r\n").encode()
    doc = json.loads(inspect("--json", "-", stdin=small).stdout)
    assert (doc["hops_skipped"], doc["hops_skipped_exact"]) == (50, True)
    assert doc["hops"][0]["from"].startswith("h99.example"), doc["hops"][0]


def test_too_big():
    big = b"Subject: x\r\n\r\n" + b"y" * (64 * 1024 * 1024 + 1)
    r = inspect("-", stdin=big)
    assert r.returncode == 1
    assert b"larger than" in r.stderr


# ---- --verify against dkimpy signatures and a real DNS server ----------

DOMAIN = "inspect-dkim.test"


def _run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def dkimenv(tmp_path_factory):
    dkim = pytest.importorskip("dkim")
    import dnsserver
    for tool in ("openssl", "nsd"):
        if shutil.which(tool) is None:
            pytest.skip("%s not installed" % tool)
    d = str(tmp_path_factory.mktemp("inspect"))
    key = os.path.join(d, "ed.pem")
    _run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", key])
    pub = _run(["openssl", "pkey", "-in", key, "-pubout", "-outform",
                "DER"]).stdout
    der = _run(["openssl", "pkey", "-in", key, "-outform", "DER"]).stdout
    priv = base64.b64encode(der[-32:])
    rec = "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub[-32:]).decode()
    zone = os.path.join(d, DOMAIN + ".zone")
    with open(zone, "w") as f:
        f.write("$ORIGIN %s.\n$TTL 300\n"
                "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
                "@ NS ns1\nns1 A 127.0.0.1\n"
                's1._domainkey TXT "%s"\n' % (DOMAIN, rec))
    info = dnsserver.start(os.path.join(d, "dns"), [zone])
    conf = os.path.join(d, "sealmail.conf")
    with open(conf, "w") as f:
        f.write("[server]\nhostname = inspect.example.org\n"
                "data_dir = %s/data\n\n"
                "[listen \"mx\"]\naddress = 127.0.0.1:2525\nrole = mx\n"
                "tls = none\n\n"
                "[dns]\nresolver = %s\ntrust_anchor =\nunbound_config = %s\n"
                % (d, info["resolver"], info["unbound_config"]))
    yield {"dir": d, "conf": conf, "priv": priv, "dkim": dkim}
    dnsserver.stop(os.path.join(d, "dns"))


def _signed(env, body=b"Hello over TLS.\r\n"):
    """A dkimpy-signed message as our MX would store it: Received on top."""
    inner = (b"From: a@" + DOMAIN.encode() + b"\r\n"
             b"To: b@example.org\r\nSubject: signed\r\n"
             b"Date: Tue, 14 May 2024 07:21:00 +0000\r\n\r\n" + body)
    sig = env["dkim"].sign(inner, b"s1", DOMAIN.encode(), env["priv"],
                           canonicalize=(b"relaxed", b"relaxed"),
                           signature_algorithm=b"ed25519-sha256",
                           include_headers=[b"from", b"to", b"subject",
                                            b"date"])
    received = (b"Received: from c.example (c.example [192.0.2.1])\r\n"
                b"\tby mx.example.org (sealmail) with ESMTPS id Q1\r\n"
                b"\ttls TLS_AES_256_GCM_SHA384\r\n"
                b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
                b"(256/256 bits))\r\n"
                b"\tfor <b@example.org>; Tue, 14 May 2024 07:21:09 +0000\r\n")
    return received + sig + inner


def _verify(env, data):
    path = os.path.join(env["dir"], "m.eml")
    with open(path, "wb") as f:
        f.write(data)
    r = inspect(path, "--json", "--verify", config=env["conf"])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_verify_pass_and_fail(dkimenv):
    good = _signed(dkimenv)
    d = _verify(dkimenv, good)
    assert d["dkim_verify"] == {"error": None}
    sig = d["dkim_signatures"][0]
    assert (sig["d"], sig["s"], sig["a"]) == (DOMAIN, "s1", "ed25519-sha256")
    assert sig["verify"]["result"] == "pass", sig
    assert d["verdict"]["status"] == "encrypted"
    bad = good.replace(b"Hello over TLS.", b"Hello over TLS!")
    assert _verify(dkimenv, bad)["dkim_signatures"][0]["verify"]["result"] \
        == "fail"
    # Same verdict in the text output, LF line ends (Maildir) included.
    path = os.path.join(dkimenv["dir"], "lf.eml")
    with open(path, "wb") as f:
        f.write(good.replace(b"\r\n", b"\n"))
    r = inspect(path, "--verify", config=dkimenv["conf"])
    assert b"a=ed25519-sha256  verify: pass" in r.stdout, r.stdout


def test_verify_without_config_fails(tmp_path):
    conf = tmp_path / "missing.conf"
    r = inspect(os.path.join(DATA, "two_hops_tls.eml"), "--verify",
                config=str(conf))
    assert r.returncode == 1
    assert b"verify: not done" in r.stdout
    assert r.stderr.decode().count("\n") == 1
    # Nothing to verify: no configuration needed.
    r = inspect(os.path.join(DATA, "plaintext_hop.eml"), "--verify", "--json",
                config=str(conf))
    assert r.returncode == 0 and json.loads(r.stdout)["dkim_verify"] == \
        {"error": None}
