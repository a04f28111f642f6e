# SPDX-License-Identifier: ISC
"""TLS-RPT reports sent (RFC 8460), end to end. A (127.0.0.1) delivers
under MTA-STS enforce to good.test (B, 127.0.0.2, a certificate from the
test CA: sessions succeed) and to bad.test (C, 127.0.0.3, self-signed:
sessions fail with certificate-not-trusted). Both publish _smtp._tls:
good.test asks for mailto:tlsrpt@good.test, bad.test for
mailto:tlsrpt@bad.test (its own MX, which fails MTA-STS) and an https:
URI served by the loopback HTTPS server (tests/outbound/stsserver.py).
`sealmail reports send --now` on A must: POST application/tlsrpt+gzip
JSON whose counts equal the sessions; mail multipart/report;
report-type=tlsrpt reports that arrive, the one to bad.test although its
MX fails MTA-STS (TLS-Required: No, §5.3); and, run again, report only
the sessions that came since (a day reported in parts counts each
session once).
"""
import email
import email.policy
import gzip
import json
import os
import re
import time

import pytest

import remote_env as env
import testca
from stsserver import StsServer

import harness

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

STS_HOST = "127.0.0.10"
N_OK = 3
N_BAD = 2
HTTPS_RUA = "https://reports.good.test/v1/tlsrpt"
FILENAME = re.compile(r"^example\.test!(good|bad)\.test!(\d+)!(\d+)!"
                      r"([0-9a-f]{20})\.json\.gz$")


def zone(ip, rua):
    return ("@ MX 10 mx\nmx A %s\n"
            '_mta-sts TXT "v=STSv1; id=1"\nmta-sts A %s\n'
            'reports A %s\n'
            '_smtp._tls TXT "v=TLSRPTv1; rua=%s"\n' % (ip, STS_HOST, STS_HOST,
                                                      rua))


def policy(mx):
    return ("version: STSv1\r\nmode: enforce\r\nmx: %s\r\n"
            "max_age: 604800\r\n" % mx)


def provision(domain):
    def run(cfg):
        cfg.write()
        for local in ("rcpt", "tlsrpt"):
            harness.cli_ok(cfg.path, "user", "add", "%s@%s" % (local, domain),
                           "--password-stdin", input=env.RCPT_PW + "\n")
    return run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("tlsrpt"))
    certs = os.path.join(base, "certs")
    ca = testca.make_ca(certs)
    cert_b = env.full_chain(testca.issue(ca, certs, "b", ["mx.good.test"]),
                            ca)
    port = env.free_port_everywhere()
    zones = {"test": "",
             "good.test": zone("127.0.0.2", "mailto:tlsrpt@good.test"),
             "bad.test": zone("127.0.0.3", "mailto:tlsrpt@bad.test,%s" %
                              HTTPS_RUA)}
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(
        dnsdir, env.write_zones(os.path.join(base, "zones"), zones))
    web = testca.issue(ca, certs, "web", ["mta-sts.good.test",
                                          "mta-sts.bad.test",
                                          "reports.good.test"])
    srv = StsServer(STS_HOST, 443, web.cert, web.key)
    srv.set("mta-sts.good.test", policy=policy("mx.good.test"))
    srv.set("mta-sts.bad.test", policy=policy("mx.bad.test"))
    srv.set("reports.good.test")
    srv.start()
    pool = env.Pool()
    errors = []
    try:
        b = pool.start(env.receiver(os.path.join(base, "b"), cert_b, dns,
                                    port, "127.0.0.2", ["good.test"]),
                       provision=provision("good.test"))
        c = pool.start(env.receiver(os.path.join(base, "c"),
                                    harness.make_cert(certs, "c"), dns, port,
                                    "127.0.0.3", ["bad.test"]),
                       provision=provision("bad.test"))
        cfg = env.a_config(os.path.join(base, "a"),
                           harness.make_cert(certs, "a"), dns, port,
                           tls_ca=ca.cert, fetch_private_addresses="yes")
        a = pool.start(cfg)
        yield {"a": a, "b": b, "c": c, "srv": srv, "base": base}
    finally:
        srv.stop()
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def tls_results(a):
    """{domain: (successes, failures, {result-type: count})} of today, as
    the store counted them (`tls-results`, tested against the sessions
    in test_mtasts.py)."""
    r = a.cli("tls-results", "--json")
    assert r.returncode == 0, r.stderr
    return counts(json.loads(r.stdout))


def counts(report):
    out = {}
    for p in report["policies"]:
        d = p["policy"]["policy-domain"]
        ok, bad, kinds = out.get(d, (0, 0, {}))
        ok += p["summary"]["total-successful-session-count"]
        bad += p["summary"]["total-failure-session-count"]
        for f in p["failure-details"]:
            kinds[f["result-type"]] = kinds.get(f["result-type"], 0) + \
                f["failed-session-count"]
        out[d] = (ok, bad, kinds)
    return out


reports_send = env.reports_send


def check_report(report, domain):
    """The §4.4 metadata of a report about domain; its counts."""
    assert report["organization-name"] == "example.test"
    assert report["contact-info"] == "noreply-reports@example.test"
    assert re.match(r"^[0-9a-f]{20}@example\.test$", report["report-id"])
    rng = report["date-range"]
    for k in ("start-datetime", "end-datetime"):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", rng[k]), rng
    assert rng["start-datetime"] <= rng["end-datetime"]
    pol = report["policies"]
    assert {p["policy"]["policy-domain"] for p in pol} == {domain}, pol
    for p in pol:
        assert p["policy"]["policy-type"] == "sts", p
        assert p["policy"]["mx-host"] == ["mx.%s" % domain], p
        assert "mode: enforce" in p["policy"]["policy-string"], p
    return counts(report)[domain]


def report_mails(box, n):
    return harness.wait_until(
        lambda: (lambda ms: ms if len(ms) >= n else None)(box.messages()),
        60, what="%d report(s)" % n)


def parse_mail(raw, domain):
    """The JSON report in a §5.3 report message about domain."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    assert msg["TLS-Report-Domain"] == domain
    assert msg["TLS-Report-Submitter"] == "example.test"
    assert msg["TLS-Required"] == "No"
    subj = " ".join(str(msg["Subject"]).split())
    m = re.match(r"^Report Domain: (\S+) Submitter: example\.test "
                 r"Report-ID: <([0-9a-f]{20})@example\.test>$", subj)
    assert m and m.group(1) == domain, subj
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "text/plain"
    att = [p for p in msg.iter_attachments()]
    assert len(att) == 1
    assert att[0].get_content_type() == "application/tlsrpt+gzip"
    fm = FILENAME.match(att[0].get_filename())
    assert fm and fm.group(1) + ".test" == domain, att[0].get_filename()
    assert fm.group(4) == m.group(2)
    report = json.loads(gzip.decompress(att[0].get_content()))
    assert report["report-id"] == "%s@example.test" % m.group(2)
    return report


def test_tlsrpt_reports(world):
    a, b, c, srv = world["a"], world["b"], world["c"], world["srv"]
    for _ in range(N_OK):
        line = env.delivered_to(world, "good.test", "b")
        assert "policy=mta-sts authenticated=yes" in line, line
    for _ in range(N_BAD):
        line, _ = env.deferred_to(world, "bad.test", "c")
        assert "policy=mta-sts" in line, line
    want = {"good.test": (N_OK, 0, {}),
            "bad.test": (0, N_BAD, {"certificate-not-trusted": N_BAD})}
    harness.wait_until(lambda: tls_results(a) == want, 10,
                       what="the sessions in the store")

    # Dry run: the report files, nothing sent, posted or marked.
    out = os.path.join(world["base"], "dry")
    os.makedirs(out)
    (sent, written, failed), err = reports_send(a, "--now", "--to-dir", out)
    assert (sent, failed) == (0, 0), err
    files = sorted(os.listdir(out))
    assert len(files) == 2, files      # bad.test's two URIs: one name
    assert written == 3, err
    for f in files:
        m = FILENAME.match(f)
        assert m, f
        d = m.group(1) + ".test"
        rep = json.loads(gzip.open(os.path.join(out, f)).read())
        assert check_report(rep, d) == want[d]
    assert srv.posts == []

    # The real run: two mails and one POST.
    (sent, written, failed), err = reports_send(a, "--now")
    assert (sent, written, failed) == (3, 0, 0), err
    posts = harness.wait_until(lambda: srv.posts, 5, what="the POST")
    assert len(posts) == 1, posts
    host, path, ctype, body = posts[0]
    assert (host, path, ctype) == ("reports.good.test", "/v1/tlsrpt",
                                   "application/tlsrpt+gzip")
    posted = json.loads(gzip.decompress(body))
    assert check_report(posted, "bad.test") == want["bad.test"]

    # The mailto reports; bad.test's MX fails MTA-STS, yet it arrives.
    raw_c = report_mails(c.mailbox("tlsrpt@bad.test"), 1)[0]
    rb = parse_mail(report_mails(b.mailbox("tlsrpt@good.test"), 1)[0],
                    "good.test")
    assert check_report(rb, "good.test") == want["good.test"]
    rc = parse_mail(raw_c, "bad.test")
    assert check_report(rc, "bad.test") == want["bad.test"]
    assert rc["report-id"] == posted["report-id"]
    assert env.log_lines(a, "rcpt=\"tlsrpt@bad.test\"", "result=delivered")
    assert env.log_lines(a, "TLS-Required: No")

    # Run again: only the sessions since (delivering the reports), never
    # the ones already reported.
    time.sleep(2)
    before = tls_results(a)
    assert before["good.test"][0] > N_OK, before
    (sent, written, failed), err = reports_send(a, "--now")
    assert failed == 0, err
    assert len(srv.posts) == 1 + (before["bad.test"] != want["bad.test"])
    boxes = report_mails(b.mailbox("tlsrpt@good.test"), 2)
    assert len(boxes) == 2, err
    new = [parse_mail(m, "good.test") for m in boxes]
    new = [r for r in new if r["report-id"] != rb["report-id"]][0]
    ok, bad, _ = check_report(new, "good.test")
    assert (ok, bad) == (before["good.test"][0] - N_OK,
                         before["good.test"][1]), (new, before)
