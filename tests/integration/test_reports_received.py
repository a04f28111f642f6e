# SPDX-License-Identifier: ISC
"""Reports received at a [reports] inbox address (issue 12 item 4): sample
reports written from the RFC examples (tests/data/reports/), sent by SMTP
as providers send them (Google: a zip attachment, Microsoft: a gzip
attachment, a plain XML body; TLS-RPT gzip, ARF), are delivered to the
Maildir as usual, parsed and stored, and shown by `sealmail reports
dmarc|tls` (text and --json). Hostile reports (XML bomb, external entity,
truncated gzip, 1 GB of zeros gzipped, deep nesting, too many records)
are refused with one log line each, still delivered, and the daemon goes
on."""

import base64
import gzip
import json
import os
import zlib
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from harness import wait_until
from mailcheck import send, smtp_connect

INBOX = "dmarc@example.test"
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "data", "reports")


def data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def mta(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.server["max_message_size"] = "4000000"
    cfg.extra = "\n[reports]\ninbox = %s\n" % INBOX
    d = module_daemons.start(cfg)
    d.cli("user", "add", INBOX, "--password-stdin", input="x-Secret-0123\n")
    return d


def attachment_mail(marker, ctype, filename, payload, subject="Report"):
    m = MIMEMultipart()
    m["From"] = "noreply-dmarc-support@google.com"
    m["To"] = INBOX
    m["Subject"] = "%s %s" % (subject, marker)
    m["Message-ID"] = "<%s@reporter.example>" % marker
    m.attach(MIMEText("This is an aggregate report.\n"))
    maintype, subtype = ctype.split("/")
    part = MIMEApplication(payload, subtype)
    part.replace_header("Content-Type", ctype)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    m.attach(part)
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def plain_mail(marker, body, ctype="text/xml"):
    head = ("From: dmarc@reporter.example\r\nTo: %s\r\nSubject: Report %s"
            "\r\nMessage-ID: <%s@reporter.example>\r\nContent-Type: %s\r\n"
            "\r\n" % (INBOX, marker, marker, ctype)).encode()
    return head + body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def deliver(mta, msg, marker):
    s = smtp_connect(mta["mx_plain"])
    qid = send(s, "reports@reporter.example", [INBOX], msg)
    s.quit()
    mta.mailbox(INBOX).wait_for(marker)
    # The hook runs after the delivery: wait for its log line.
    wait_until(lambda: any(("qid=%s report " % qid) in l
                           for l in mta.log_text().splitlines()),
               15, what="report log line of %s" % qid)
    return qid


def log_lines(mta, qid):
    return [l for l in mta.log_text().splitlines()
            if ("qid=%s report " % qid) in l]


def dmarc_json(mta, *args):
    r = mta.cli("reports", "dmarc", "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def by_id(reports, rid):
    return [x for x in reports["reports"] if x["report_id"] == rid]


def test_google_zip(mta):
    qid = deliver(mta, attachment_mail(
        "mkzip", "application/zip",
        "google.com!example.org!1764892800!1764979199.zip",
        data("rfc7489-sample.xml.zip")), "mkzip")
    assert "report stored kind=dmarc" in log_lines(mta, qid)[0]
    out = dmarc_json(mta, "--days", "36500")
    [r] = by_id(out, "12598866915817748661")
    assert r == {
        "org_name": "google.com", "report_id": "12598866915817748661",
        "begin": 1764892800, "end": 1764979199,
        "policy_domain": "example.org", "authenticated": False,
        "records": [{"source_ip": "203.0.113.5", "count": 2,
                     "disposition": "none", "header_from": "example.org",
                     "dkim": "pass", "spf": "pass"}]}


def test_microsoft_gzip_and_spoofing_flag(mta):
    qid = deliver(mta, attachment_mail(
        "mkgz", "application/gzip",
        "enterprise.protection.outlook.com!example.com!302832000!302918399"
        ".xml.gz", data("rfc9990-sample.xml.gz")), "mkgz")
    assert "items=2 authenticated=no" in log_lines(mta, qid)[0]
    [r] = by_id(dmarc_json(mta, "--days", "36500", "--domain",
                           "EXAMPLE.com"), "3v98abbp8ya9n3va8yr8oa3ya")
    assert [(x["source_ip"], x["count"], x["dkim"], x["spf"],
             x["disposition"]) for x in r["records"]] == [
        ("192.0.2.123", 123, "pass", "fail", "pass"),
        ("198.51.100.7", 4, "fail", "fail", "quarantine")]
    # --domain filters on the policy domain.
    assert by_id(dmarc_json(mta, "--days", "36500", "--domain",
                            "example.org"), "3v98abbp8ya9n3va8yr8oa3ya") == []
    # The human summary: per organisation and source, the unaligned
    # source flagged, the report's own authentication said.
    r = mta.cli("reports", "dmarc", "--days", "36500", "--domain",
                "example.com")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "organisation: Sample Reporter" in text
    assert "source 198.51.100.7 header_from=example.com messages=4" in text
    assert "possible spoofing of example.com" in text
    assert "NOT authenticated" in text
    line = [l for l in text.splitlines() if "source 192.0.2.123" in l][0]
    assert "dkim_pass=123 dkim_aligned=123 spf_pass=0 spf_aligned=0" in line
    flagged = text.split("source 192.0.2.123")[1].split("source")[0]
    assert "spoofing" not in flagged


def test_plain_xml_body_and_duplicate(mta):
    body = data("rfc9990-sample.xml").replace(
        b"3v98abbp8ya9n3va8yr8oa3ya", b"plain-body-1")
    qid = deliver(mta, plain_mail("mkplain", body), "mkplain")
    assert "report stored" in log_lines(mta, qid)[0]
    # The same report again: kept in the mailbox, counted once.
    qid = deliver(mta, plain_mail("mkplain2", body), "mkplain2")
    assert "report duplicate" in log_lines(mta, qid)[0]
    assert len(by_id(dmarc_json(mta, "--days", "36500"),
                     "plain-body-1")) == 1


def test_tlsrpt_gzip(mta):
    qid = deliver(mta, attachment_mail(
        "mktls", "application/tlsrpt+gzip",
        "company-x.example!example.test!1459468800!1459555199.json.gz",
        data("rfc8460-sample.json.gz")), "mktls")
    assert "report stored kind=tls" in log_lines(mta, qid)[0]
    r = mta.cli("reports", "tls", "--json", "--days", "36500")
    assert r.returncode == 0, r.stderr
    [rep] = json.loads(r.stdout)["reports"]
    want = json.loads(data("rfc8460-sample.json"))
    # The RFC 8460 object as sent (mx-host as a list, as policy-string).
    want["policies"][0]["policy"]["mx-host"] = ["*.mail.company-y.example"]
    got = dict(rep)
    assert got.pop("authenticated") is False
    assert got == want
    r = mta.cli("reports", "tls", "--days", "36500", "--domain",
                "company-y.example")
    assert r.returncode == 0, r.stderr
    assert "organisation: Company-X" in r.stdout
    assert "successful sessions: 5326" in r.stdout
    assert "failed sessions: 303" in r.stdout
    assert "starttls-not-supported: 200" in r.stdout
    assert "certificate-expired: 100" in r.stdout
    r = mta.cli("reports", "tls", "--json", "--domain", "other.example",
                "--days", "36500")
    assert json.loads(r.stdout) == {"reports": []}


def test_arf(mta):
    msg = data("arf-sample.eml").replace(b"arf-1@example.com",
                                         b"mkarf@example.com")
    msg = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    msg = msg.replace(b"To: <abuse@example.net>", b"To: <%s>" %
                      INBOX.encode())
    qid = deliver(mta, msg, "mkarf")
    assert "report stored kind=arf org=\"example.com\"" in \
        log_lines(mta, qid)[0]


def test_huge_counts_summed_without_overflow(mta):
    """Counts are the reporter's: ten records of 10^18 - 1 messages sum
    past 64 bits. The summary saturates instead of wrapping negative."""
    rec = (b"<record><row><source_ip>192.0.2.77</source_ip><count>"
           b"999999999999999999</count><policy_evaluated><disposition>none"
           b"</disposition><dkim>pass</dkim><spf>pass</spf>"
           b"</policy_evaluated></row><identifiers><header_from>"
           b"overflow.example</header_from></identifiers><auth_results>"
           b"<spf><domain>overflow.example</domain><result>pass</result>"
           b"</spf></auth_results></record>\n")
    xml = (b"<feedback><report_metadata><org_name>Overflow Org</org_name>"
           b"<report_id>ovf-1</report_id><date_range><begin>1764892800"
           b"</begin><end>1764979199</end></date_range></report_metadata>"
           b"<policy_published><domain>overflow.example</domain><p>none</p>"
           b"</policy_published>" + rec * 10 + b"</feedback>")
    qid = deliver(mta, plain_mail("mkovf", xml), "mkovf")
    assert "report stored" in log_lines(mta, qid)[0]
    r = mta.cli("reports", "dmarc", "--days", "36500", "--domain",
                "overflow.example")
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if "source 192.0.2.77" in l][0]
    assert "=-" not in line, line
    assert "messages=9223372036854775807 " in line, line
    assert "spf_aligned=9223372036854775807 " in line, line


def gzip_bomb():
    """1 GB of zeros gzipped, streamed (about 1 MB; never stored)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    chunk = bytes(1 << 20)
    out = [c.compress(chunk) for _ in range(1024)]
    out.append(c.flush())
    return b"".join(out)


def deep_xml():
    return (b"<feedback>" + b"<a>" * 200 + b"</a>" * 200 + b"</feedback>")


def many_records():
    rec = (b"<record><row><source_ip>192.0.2.1</source_ip><count>1</count>"
           b"</row></record>")
    return (b"<feedback><report_metadata><org_name>o</org_name><report_id>"
            b"many</report_id></report_metadata>" + rec * 10001 +
            b"</feedback>")


HOSTILE = [
    ("mkbomb", "application/gzip", "bomb.xml.gz", gzip_bomb,
     "past the limit"),
    ("mklaughs", "text/xml", "laughs.xml",
     lambda: data("billion-laughs.xml"), "entity"),
    ("mkxxe", "application/gzip", "xxe.xml.gz",
     lambda: gzip.compress(data("xxe.xml")), "entity"),
    ("mktrunc", "application/gzip", "t.xml.gz",
     lambda: data("truncated.xml.gz"), "truncated"),
    ("mkdeep", "application/xml", "deep.xml", deep_xml, "deeper"),
    ("mkmany", "application/gzip", "many.xml.gz",
     lambda: gzip.compress(many_records()), "more than 10000 records"),
]


@pytest.mark.parametrize("marker,ctype,filename,make,why", HOSTILE,
                         ids=[h[0] for h in HOSTILE])
def test_hostile_refused(mta, marker, ctype, filename, make, why):
    before = dmarc_json(mta, "--days", "36500")
    qid = deliver(mta, attachment_mail(marker, ctype, filename, make()),
                  marker)
    [line] = log_lines(mta, qid)
    assert "report refused" in line and why in line, line
    assert "root:" not in mta.log_text()          # /etc/passwd never read
    # Nothing else changed; the daemon still works.
    assert dmarc_json(mta, "--days", "36500") == before
    assert mta.alive()
    deliver(mta, attachment_mail(marker + "ok", "application/zip",
                                 "again.zip", data(
                                     "rfc7489-sample.xml.zip")),
            marker + "ok")
