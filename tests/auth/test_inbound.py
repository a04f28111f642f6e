# SPDX-License-Identifier: ISC
"""Inbound authentication end to end (issue 4): the real daemon on an mx
listener with a real DNS server (NSD, tests/dns/dnsserver.py) serving the
senders' SPF, DKIM and DMARC records.

* one Authentication-Results field of ours with spf, dkim and dmarc;
* forged Authentication-Results claiming our authserv-id and sender
  supplied BIMI fields are removed;
* DMARC p=reject -> 550 5.7.1, nothing delivered; p=quarantine -> Junk;
* a DNS error above the Author Domain's own record loses no policy; a
  temperror where the policy may be reject -> 451 4.7.5;
* a dkimpy-signed message verifies (dkim=pass, DMARC aligned);
* submission with a DKIM key signs; dkimpy and our check-auth verify it;
* check-auth prints the same Authentication-Results the daemon added.
"""
import base64
import os
import re
import smtplib
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

dkim = pytest.importorskip("dkim")
import dnsserver  # noqa: E402
import harness  # noqa: E402
from harness import (Config, Daemon, make_cert, provision,  # noqa: E402
                     wait_until)

HOST = harness.HOSTNAME
# Sender domains: (zone name, extra records).
ZONES = {
    "test": "",
    "pass.test": '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                 '_dmarc IN TXT "v=DMARC1; p=reject"\n',
    "forger.test": '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n'
                   '_dmarc IN TXT "v=DMARC1; p=reject"\n',
    "quar.test": '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n'
                 '_dmarc IN TXT "v=DMARC1; p=quarantine"\n',
    # Issue 10: the TLD's _dmarc name fails (SERVFAIL) above an Author
    # Domain that has its own p=reject record.
    "lame": ';! servfail _dmarc.lame\n',
    "rej.lame": '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                '_dmarc IN TXT "v=DMARC1; p=reject"\n'
                'sub IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n',
}


def split_txt(s):
    return " ".join('"%s"' % s[i:i + 250] for i in range(0, len(s), 250))


def to_crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def our_ar(raw):
    """Our Authentication-Results fields (unfolded) in a delivered message."""
    head = to_crlf(raw).split(b"\r\n\r\n", 1)[0].decode()
    head = re.sub(r"\r\n[ \t]+", " ", head)
    return [l for l in head.split("\r\n")
            if l.lower().startswith("authentication-results:")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("inbound"))
    # Keys: a sender key for dkimpy, and our own submission key.
    sender_key = os.path.join(base, "sender.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                    sender_key], check=True, capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", sender_key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout[-32:]
    # dkimpy takes an Ed25519 key as the base64 of its 32-byte seed.
    seed = subprocess.run(["openssl", "pkey", "-in", sender_key, "-outform",
                           "DER"], check=True, capture_output=True).stdout[-32:]
    with open(sender_key, "wb") as f:
        f.write(base64.b64encode(seed))
    zones = dict(ZONES)
    zones["signed.test"] = (
        '@ IN TXT "v=spf1 -all"\n'
        '_dmarc IN TXT "v=DMARC1; p=reject"\n'
        'sel._domainkey IN TXT "v=DKIM1; k=ed25519; p=%s"\n' %
        base64.b64encode(pub).decode())
    certs = [make_cert(base, "ec")]
    cfg = Config(os.path.join(base, "mta"), certs)
    cfg.listen("mx", "mx", "starttls")
    cfg.listen("submissions", "submission", "implicit")
    os.makedirs(cfg.folder, exist_ok=True)
    our_key = os.path.join(cfg.folder, "example.test.s1.key")
    r = harness.run_cli(None, "dkim", "keygen", "--domain", "example.test",
                        "--selector", "s1", "--out", our_key)
    assert r.returncode == 0, r.stderr
    record = "".join(re.findall(r'"([^"]*)"', r.stdout))
    zones["example.test"] = ('@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                             's1._domainkey IN TXT %s\n' % split_txt(record))
    files = dnsserver.write_zones(os.path.join(base, "zones"), zones)
    info = dnsserver.start(os.path.join(base, "dns"), files)
    cfg.dns = {"resolver": info["resolver"], "trust_anchor": "",
               "unbound_config": info["unbound_config"]}
    cfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                 'dkim_key = %s\n' % our_key)
    cfg.domains = []
    cfg.auth = {"dmarc_enforce": "yes"}
    provision(cfg)
    d = Daemon(cfg)
    try:
        d.start()
        yield {"d": d, "cfg": cfg, "sender_key": sender_key,
               "our_record": record}
    finally:
        try:
            d.stop()
        finally:
            dnsserver.stop(os.path.join(base, "dns"))


def send_mx(d, frm, to, msg):
    lst = d["mx"]
    with smtplib.SMTP(lst.host, lst.port, timeout=60) as s:
        s.ehlo("client.example.test")
        return s.sendmail(frm, [to], msg)


def message(frm, to, subject, extra=b""):
    return (b"From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
            b"Message-ID: <%s@t>\r\n%s\r\nbody line\r\n" %
            (frm.encode(), to.encode(), subject.encode(),
             subject.encode(), extra))


def test_spf_dkim_dmarc_in_one_field_forgeries_removed(env):
    d = env["d"]
    forged = (b"Authentication-Results: %s; spf=pass; dmarc=pass\r\n"
              b"Authentication-Results: other.example; spf=none\r\n"
              b"BIMI-Location: v=BIMI1; l=https://evil.example/x.svg\r\n"
              % HOST.encode())
    send_mx(d, "a@pass.test", "alice@example.test",
            message("a@pass.test", "alice@example.test", "archeck", forged))
    raw = d.mailbox("alice@example.test").wait_for("archeck")[0]
    ours = [l for l in our_ar(raw) if HOST in l.split(";")[0]]
    assert len(ours) == 1, our_ar(raw)
    assert "spf=pass smtp.mailfrom=a@pass.test" in ours[0]
    assert "dkim=none" in ours[0]
    assert "arc=none" in ours[0]
    assert "dmarc=pass" in ours[0] and "header.from=pass.test" in ours[0]
    assert b"other.example; spf=none" in raw      # not ours: kept
    assert b"evil.example" not in raw             # sender's BIMI: gone


def test_dmarc_reject(env):
    d = env["d"]
    with pytest.raises(smtplib.SMTPDataError) as e:
        send_mx(d, "a@forger.test", "alice@example.test",
                message("a@forger.test", "alice@example.test", "rejectme"))
    assert e.value.smtp_code == 550
    assert b"5.7.1" in e.value.smtp_error and b"DMARC" in e.value.smtp_error
    assert not d.mailbox("alice@example.test").with_marker("rejectme")
    # The evaluation is kept in the store for aggregate reports (the
    # worker writes its rows once a second).
    import sqlite3

    def rows():
        db = sqlite3.connect(os.path.join(d.data_dir, "sealmail.db"))
        try:
            return db.execute("SELECT result, disposition, policy, "
                              "spf_result FROM dmarc_results WHERE "
                              "header_from = 'forger.test'").fetchall()
        finally:
            db.close()
    wait_until(lambda: ("fail", "reject", "reject", "fail") in rows(), 5,
               what="the DMARC row in the store")


def test_dmarc_policy_survives_dns_error_above(env):
    """_dmarc.lame fails: rej.lame's own p=reject still applies, and SPF
    for exactly rej.lame aligns without the Organizational Domain."""
    d = env["d"]
    send_mx(d, "a@rej.lame", "alice@example.test",
            message("a@rej.lame", "alice@example.test", "lamepass"))
    raw = d.mailbox("alice@example.test").wait_for("lamepass")[0]
    ar = our_ar(raw)[0]
    assert "dmarc=pass" in ar and "header.from=rej.lame" in ar, ar
    with pytest.raises(smtplib.SMTPDataError) as e:
        send_mx(d, "a@forger.test", "alice@example.test",
                message("a@rej.lame", "alice@example.test", "lamefail"))
    assert e.value.smtp_code == 550, e.value
    assert b"5.7.1" in e.value.smtp_error
    assert not d.mailbox("alice@example.test").with_marker("lamefail")


def test_dmarc_temperror_under_reject_policy_is_451(env):
    """SPF passes for sub.rej.lame: relaxed alignment needs the
    Organizational Domain, which the DNS error hides; the policy is
    reject, so the message is deferred, not delivered as p=none."""
    d = env["d"]
    with pytest.raises(smtplib.SMTPDataError) as e:
        send_mx(d, "a@sub.rej.lame", "alice@example.test",
                message("a@rej.lame", "alice@example.test", "lametemp"))
    assert e.value.smtp_code == 451, e.value
    assert b"4.7.5" in e.value.smtp_error
    assert not d.mailbox("alice@example.test").with_marker("lametemp")


def test_dmarc_quarantine_goes_to_junk(env):
    d = env["d"]
    send_mx(d, "a@quar.test", "bob@example.test",
            message("a@quar.test", "bob@example.test", "quarantineme"))
    raw = d.mailbox("bob@example.test", "Junk").wait_for("quarantineme")[0]
    assert "dmarc=fail" in our_ar(raw)[0]
    assert not d.mailbox("bob@example.test").with_marker("quarantineme")


def test_dkimpy_signature_passes_and_aligns(env):
    d = env["d"]
    with open(env["sender_key"], "rb") as f:
        key = f.read()
    msg = message("a@signed.test", "alice@example.test", "dkimpass")
    sig = dkim.sign(msg, b"sel", b"signed.test", key,
                    include_headers=[b"from", b"to", b"subject"],
                    signature_algorithm=b"ed25519-sha256")
    send_mx(d, "a@signed.test", "alice@example.test", sig + msg)
    raw = d.mailbox("alice@example.test").wait_for("dkimpass")[0]
    ar = our_ar(raw)[0]
    assert "dkim=pass header.d=signed.test header.s=sel" in ar
    assert "spf=fail" in ar                 # -all: only DKIM aligns
    assert "dmarc=pass" in ar


def test_check_auth_agrees_with_daemon(env):
    d = env["d"]
    with open(env["sender_key"], "rb") as f:
        key = f.read()
    msg = message("a@signed.test", "alice@example.test", "cacheck")
    msg = dkim.sign(msg, b"sel", b"signed.test", key,
                    signature_algorithm=b"ed25519-sha256") + msg
    send_mx(d, "a@signed.test", "alice@example.test", msg)
    raw = d.mailbox("alice@example.test").wait_for("cacheck")[0]
    path = os.path.join(env["cfg"].folder, "cacheck.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = d.cli("check-auth", "--ip", "127.0.0.1", "--helo",
              "client.example.test", "--mail-from", "a@signed.test", path)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first == our_ar(raw)[0]


def test_submission_is_dkim_signed(env):
    d, record = env["d"], env["our_record"]
    lst = d["submissions"]
    msg = message("alice@example.test", "bob@example.test", "signedout")
    with smtplib.SMTP_SSL(lst.host, lst.port, timeout=30,
                          context=harness.client_ctx()) as s:
        s.login("alice@example.test", harness.USERS["alice@example.test"])
        s.sendmail("alice@example.test", ["bob@example.test"], msg)
    raw = to_crlf(d.mailbox("bob@example.test").wait_for("signedout")[0])
    assert b"DKIM-Signature:" in raw

    def dnsfunc(name, timeout=5):
        assert name == b"s1._domainkey.example.test."
        return record.encode()
    # Our Received field sits above the signature and is not signed.
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    path = os.path.join(env["cfg"].folder, "signedout.eml")
    with open(path, "wb") as f:
        f.write(raw)
    r = d.cli("check-auth", "--json", "--ip", "127.0.0.1", "--helo", "x",
              "--mail-from", "alice@example.test", path)
    assert r.returncode == 0, r.stderr
    assert '"result": "pass", "reason": ' in r.stdout
    assert '"d": "example.test"' in r.stdout
