# SPDX-License-Identifier: ISC
"""Received reports and whether the report message itself passed DMARC
(issue 12 item 4): a DMARC aggregate report mailed to the [reports] inbox
from a domain whose SPF passes and aligns is stored as authenticated; one
from a domain whose SPF fails is not, even when the sender forged an
Authentication-Results field with our authserv-id and dmarc=pass (removed
on receipt, RFC 8601 §5). A real DNS server (NSD, tests/dns/dnsserver.py)
serves the reporters' SPF and DMARC records."""
import json
import os
import smtplib
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import dnsserver  # noqa: E402
import harness  # noqa: E402
from harness import Config, Daemon, make_cert, provision  # noqa: E402

HOST = harness.HOSTNAME
INBOX = "dmarc@example.test"
ZONES = {
    "test": "",
    "goodreporter.test": '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                         '_dmarc IN TXT "v=DMARC1; p=reject"\n',
    "badreporter.test": '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n'
                        '_dmarc IN TXT "v=DMARC1; p=none"\n',
    "example.test": '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n',
}
with open(os.path.join(ROOT, "tests", "data", "reports",
                       "rfc7489-sample.xml"), "rb") as _f:
    SAMPLE = _f.read()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("reports_auth"))
    files = dnsserver.write_zones(os.path.join(base, "zones"), ZONES)
    info = dnsserver.start(os.path.join(base, "dns"), files)
    cfg = Config(os.path.join(base, "mta"), [make_cert(base, "ec")])
    cfg.listen("mx", "mx", "starttls")
    cfg.dns = {"resolver": info["resolver"], "trust_anchor": "",
               "unbound_config": info["unbound_config"]}
    cfg.extra = "\n[reports]\ninbox = %s\n" % INBOX
    provision(cfg)
    harness.cli_ok(cfg.path, "user", "add", INBOX, "--password-stdin",
                   input="x-Secret-0123\n")
    d = Daemon(cfg)
    try:
        d.start()
        yield d
    finally:
        try:
            d.stop()
        finally:
            dnsserver.stop(os.path.join(base, "dns"))


def send_report(d, domain, report_id, extra=b""):
    frm = "reports@%s" % domain
    msg = (b"From: <%s>\r\nTo: <%s>\r\nSubject: Report %s\r\n"
           b"Message-ID: <%s@t>\r\n%sContent-Type: text/xml\r\n\r\n" %
           (frm.encode(), INBOX.encode(), report_id.encode(),
            report_id.encode(), extra))
    body = SAMPLE.replace(b"12598866915817748661", report_id.encode())
    body = body.replace(b"<org_name>google.com", b"<org_name>" +
                        domain.encode())
    lst = d["mx"]
    with smtplib.SMTP(lst.host, lst.port, timeout=60) as s:
        s.ehlo("client.example.test")
        s.sendmail(frm, [INBOX], msg + body.replace(b"\n", b"\r\n"))
    d.mailbox(INBOX).wait_for(report_id)
    harness.wait_until(lambda: "report_id=\"%s\"" % report_id in
                       d.log_text(), 15, what="report %s" % report_id)


def stored(d, report_id):
    r = d.cli("reports", "dmarc", "--json", "--days", "36500")
    assert r.returncode == 0, r.stderr
    [rep] = [x for x in json.loads(r.stdout)["reports"]
             if x["report_id"] == report_id]
    return rep


def test_report_that_passed_dmarc_is_authenticated(env):
    send_report(env, "goodreporter.test", "auth-pass-1")
    assert stored(env, "auth-pass-1")["authenticated"] is True
    r = env.cli("reports", "dmarc", "--days", "36500")
    line = [l for l in r.stdout.splitlines() if "auth-pass-1" in l][0]
    assert "authenticated (DMARC pass)" in line and "NOT" not in line


def test_report_that_failed_dmarc_is_not_even_with_forged_results(env):
    forged = (b"Authentication-Results: %s; spf=pass; dkim=pass; "
              b"dmarc=pass header.from=badreporter.test\r\n" % HOST.encode())
    send_report(env, "badreporter.test", "auth-fail-1", forged)
    assert stored(env, "auth-fail-1")["authenticated"] is False
    assert "report stored kind=dmarc" in env.log_text()
