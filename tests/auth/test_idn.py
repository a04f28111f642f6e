# SPDX-License-Identifier: ISC
"""Internationalized domains end to end (issue 15 item 1, RFC 8616): the
real daemon on an mx listener with a real DNS server (NSD,
tests/dns/dnsserver.py) serving IDN senders' SPF, DKIM and DMARC records
under their A-labels.

* a U-label Author Domain (RFC 6532 From: over SMTPUTF8, U-label MAIL
  FROM) gets a real DMARC verdict from the A-label's record: pass, and a
  p=reject fail is refused;
* an A-label Author Domain the same;
* a message DKIM-signed by dkimpy with an A-label d= verifies and DMARC
  passes on DKIM alone;
* a From: with a broken IDN (bad Punycode, a disallowed code point) gives
  dmarc=permerror with its reason, is delivered, and the worker lives;
* the auth log line, check-auth and inspect show both forms.
"""
import json
import os
import re
import smtplib
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(__file__))

dkim = pytest.importorskip("dkim")
import dnsserver  # noqa: E402
import harness  # noqa: E402
from crosscheck_lib import genkey  # noqa: E402
from harness import Config, Daemon, make_cert, provision  # noqa: E402

RCPT = "alice@example.test"
# bücher.test, münchen.test, faß.test
BUECHER, BUECHER_A = "b\u00fccher.test", "xn--bcher-kva.test"
MUENCHEN, MUENCHEN_A = "m\u00fcnchen.test", "xn--mnchen-3ya.test"
FASS_A = "xn--fa-hia.test"
ZONES = {
    "test": "",
    "example.test": "",
    BUECHER_A: '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
               '_dmarc IN TXT "v=DMARC1; p=reject"\n',
    MUENCHEN_A: '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n'
                '_dmarc IN TXT "v=DMARC1; p=reject"\n',
}


def our_ar(raw):
    """Our Authentication-Results field (unfolded) in a delivered message."""
    raw = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    head = re.sub(r"\r\n[ \t]+", " ", head)
    ours = [l for l in head.split("\r\n")
            if l.lower().startswith("authentication-results: " +
                                    harness.HOSTNAME)]
    assert len(ours) == 1, head
    return ours[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("idn"))
    _, record, seed = genkey(base, "sender", "ed25519")
    zones = dict(ZONES)
    zones[FASS_A] = ('@ IN TXT "v=spf1 -all"\n'
                     '_dmarc IN TXT "v=DMARC1; p=reject"\n'
                     'sel._domainkey IN TXT "%s"\n' % record)
    cfg = Config(os.path.join(base, "mta"), [make_cert(base, "ec")])
    cfg.listen("mx", "mx", "starttls")
    files = dnsserver.write_zones(os.path.join(base, "zones"), zones)
    info = dnsserver.start(os.path.join(base, "dns"), files)
    cfg.dns = {"resolver": info["resolver"], "trust_anchor": "",
               "unbound_config": info["unbound_config"]}
    cfg.auth = {"dmarc_enforce": "yes"}
    provision(cfg)
    d = Daemon(cfg)
    try:
        d.start()
        yield {"d": d, "cfg": cfg, "seed": seed}
    finally:
        try:
            d.stop()
        finally:
            dnsserver.stop(os.path.join(base, "dns"))


def send(d, frm, hdr_from, marker, sign=None, utf8=False):
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
           "Message-ID: <%s@t>\r\n\r\nbody line\r\n" %
           (hdr_from, RCPT, marker, marker)).encode("utf-8")
    if sign is not None:
        msg = sign(msg) + msg
    lst = d["mx"]
    with smtplib.SMTP(lst.host, lst.port, timeout=60) as s:
        s.ehlo("client.example.test")
        s.sendmail(frm, [RCPT], msg,
                   mail_options=["SMTPUTF8"] if utf8 else [])
    return msg


def test_ulabel_author_domain_passes(env):
    """From: and MAIL FROM in U-labels: SPF and DMARC are looked up under
    the A-label (RFC 8616 §4, §6), DMARC passes on the aligned SPF."""
    d = env["d"]
    send(d, "a@" + BUECHER, "j\u00f6rg@" + BUECHER, "idnupass", utf8=True)
    ar = our_ar(d.mailbox(RCPT).wait_for("idnupass")[0])
    assert "spf=pass" in ar, ar
    assert "dmarc=pass" in ar and "header.from=" + BUECHER_A in ar, ar
    # The auth log line shows both forms (escaped: log lines are ASCII).
    assert ('from="b\\xc3\\xbccher.test (%s)"' % BUECHER_A) in d.log_text()


def test_alabel_author_domain_passes(env):
    d = env["d"]
    send(d, "a@" + BUECHER_A, "a@" + BUECHER_A, "idnapass")
    ar = our_ar(d.mailbox(RCPT).wait_for("idnapass")[0])
    assert "dmarc=pass" in ar and "header.from=" + BUECHER_A in ar, ar


def test_ulabel_author_domain_reject_policy_applies(env):
    """münchen.test publishes p=reject and its SPF does not allow us: a
    real verdict (fail, refused), not a permerror."""
    d = env["d"]
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(d, "a@" + MUENCHEN, "a@" + MUENCHEN, "idnureject", utf8=True)
    assert e.value.smtp_code == 550, e.value
    assert b"5.7.1" in e.value.smtp_error
    assert not d.mailbox(RCPT).with_marker("idnureject")


def test_dkimpy_alabel_signature_passes_dmarc(env):
    """dkimpy signs with d=xn--fa-hia.test; SPF fails (-all), so DMARC
    passes through the aligned DKIM signature alone."""
    d = env["d"]

    def sign(msg):
        return dkim.sign(msg, b"sel", FASS_A.encode(), env["seed"],
                         include_headers=[b"from", b"to", b"subject"],
                         signature_algorithm=b"ed25519-sha256")
    msg = send(d, "a@" + FASS_A, "a@" + FASS_A, "idndkim", sign=sign)
    ar = our_ar(d.mailbox(RCPT).wait_for("idndkim")[0])
    assert "dkim=pass header.d=%s header.s=sel" % FASS_A in ar, ar
    assert "spf=fail" in ar, ar
    assert "dmarc=pass" in ar and "header.from=" + FASS_A in ar, ar
    # check-auth agrees and names the domain in both forms.
    path = os.path.join(env["cfg"].folder, "idndkim.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = d.cli("check-auth", "--ip", "127.0.0.1", "--helo",
              "client.example.test", "--mail-from", "a@" + FASS_A, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == ar
    assert ("DMARC author domain: fa\u00df.test (%s)" % FASS_A
            in r.stdout), r.stdout
    r = d.cli("check-auth", "--json", "--ip", "127.0.0.1", "--helo",
              "client.example.test", "--mail-from", "a@" + FASS_A, path)
    assert r.returncode == 0, r.stderr
    author = json.loads(r.stdout)["dmarc"]["authors"][0]
    assert author["domain"] == FASS_A and author["result"] == "pass"
    assert author["domain_unicode"] == "fa\u00df.test", author
    r = d.cli("inspect", path)
    assert r.returncode == 0, r.stderr
    assert "(domain fa\u00df.test (%s))" % FASS_A in r.stdout, r.stdout
    assert "d=%s (fa\u00df.test)" % FASS_A in r.stdout, r.stdout
    r = d.cli("inspect", "--json", path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["from_domain_idn"] == {
        "alabel": FASS_A, "ulabel": "fa\u00df.test", "error": None}


@pytest.mark.parametrize("domain, why, utf8, marker", [
    ("xn--bad.test", "disallowed", False, "idnbad1"),
    ("xn--99999999999.test", "Punycode", False, "idnbad2"),
    ("\u2603.test", "disallowed", True, "idnbad3"),
    ("l\u00b7x.test", "CONTEXTO", True, "idnbad4"),
])
def test_broken_idn_is_dmarc_permerror(env, domain, why, utf8, marker):
    """A From: domain that is not valid IDNA2008: dmarc=permerror with the
    reason in Authentication-Results; the message is delivered (no policy
    applies) and the worker that saw it still serves."""
    d = env["d"]
    workers = sorted(d.workers())
    send(d, "a@" + BUECHER_A, "a@" + domain, marker, utf8=utf8)
    ar = our_ar(d.mailbox(RCPT).wait_for(marker)[0])
    m = re.search(r'dmarc=permerror \([^)]*\) reason="([^"]*)" '
                  r'header.from=([^;\s]+)', ar)
    assert m, ar
    assert why in m.group(1) and "invalid IDN" in m.group(1), ar
    assert m.group(2).strip('"') == domain, ar
    assert sorted(d.workers()) == workers
    assert d.alive()
    # The auth log line says why too.
    assert 'reason="invalid IDN' in d.log_text()


def test_invalid_idn_envelope_refused(env):
    """In MAIL FROM the same names are a bad address: 553 5.1.3."""
    d = env["d"]
    lst = d["mx"]
    with smtplib.SMTP(lst.host, lst.port, timeout=60) as s:
        s.ehlo("client.example.test")
        code, text = s.mail("a@xn--bad.test")
        assert code == 553 and b"5.1.3" in text, (code, text)
        assert b"IDNA2008" in text, text
        s.rset()
        code, text = s.mail("a@\u2603.test", ["SMTPUTF8"])
        assert code == 553 and b"5.1.3" in text, (code, text)
        assert b"IDNA2008" in text, text
