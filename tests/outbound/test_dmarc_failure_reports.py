# SPDX-License-Identifier: ISC
"""DMARC failure reports (RFC 9991), end to end. Messages whose From:
domain fail.test fails DMARC (no SPF record, no signature) reach two
receivers from 127.0.0.1: B (127.0.0.2, [reports] as by default:
dmarc_failure_reports = no) and D (127.0.0.3, dmarc_failure_reports = yes,
failure_reports_per_hour = 2). fail.test's record asks for failure
reports (ruf=, fo=1) at ruf@example.test, a mailbox of A, which
authorises them (RFC 9990 §4, fail.test._report._dmarc.example.test).
B sends nothing; D sends ARF reports with the header section only, no
body and no local part, at most two an hour.
"""
import email
import email.policy
import os
import re
import time

import pytest

import remote_env as env
from remote_env import harness, dnsserver

pytestmark = pytest.mark.skipif(not dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

RUF = "ruf@example.test"
RUF_PW = "ruf-Secret-01234"
SENDER = "bob.secret@fail.test"
RCPT = "carol.private@remote.test"
PER_HOUR = 2
N_FAIL = 4
BODY = "the body is private: never in a report"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("dmarcfail"))
    zones = {
        "test": "",
        "example.test": ("@ MX 10 mail\nmail A 127.0.0.1\n"
                         '@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                         'fail.test._report._dmarc TXT "v=DMARC1"\n'),
        env.B_DOMAIN: "@ MX 10 mx\nmx A 127.0.0.2\n",
        "fail.test": ('_dmarc TXT "v=DMARC1; p=none; fo=1; '
                      'ruf=mailto:%s"\n' % RUF),
    }
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, env.write_zones(os.path.join(base,
                                                               "zones"),
                                                  zones))
    pool = env.Pool()
    errors = []
    try:
        certs = os.path.join(base, "certs")
        port = env.free_port_everywhere()
        rcv = {}
        for name, host, on in (("b", "127.0.0.2", False),
                               ("d", "127.0.0.3", True)):
            cfg = env.receiver(os.path.join(base, name),
                               harness.make_cert(certs, name), dns, port,
                               host, [env.B_DOMAIN])
            cfg.listen("mx_plain", "mx", "none", host=host)
            cfg.delivery = {"mx_port": str(port)}
            if on:
                cfg.extra = ("\n[reports]\ndmarc_failure_reports = yes\n"
                             "failure_reports_per_hour = %d\n" % PER_HOUR)

            def prov(c):
                c.write()
                harness.cli_ok(c.path, "user", "add", RCPT,
                               "--password-stdin", input=env.CAROL_PW + "\n")
            rcv[name] = pool.start(cfg, provision=prov)
        acfg = env.a_config(os.path.join(base, "a"),
                            harness.make_cert(certs, "a"), dns, port)
        acfg.listen("mx", "mx", "starttls", port=port)

        def prov_a(c):
            harness.provision(c)
            harness.cli_ok(c.path, "user", "add", RUF, "--password-stdin",
                           input=RUF_PW + "\n")
        a = pool.start(acfg, provision=prov_a)
        yield {"a": a, "b": rcv["b"], "d": rcv["d"]}
    finally:
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


# A signature of the author domain whose key is not published: the DKIM
# failure of an aligned identifier, which RFC 9991 §4 names.
BROKEN_SIG = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
              "d=fail.test; s=gone; h=from:subject; "
              "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; "
              "b=dGhpcyBpcyBub3QgYSBzaWduYXR1cmU=")


def send_failing(rcv, marker):
    """A message from SENDER (fails DMARC: no SPF, a signature without its
    key) to RCPT on rcv's plain mx listener; its body carries marker."""
    s = env.mailcheck.smtp_connect(rcv["mx_plain"])
    try:
        s.sendmail(SENDER, [RCPT], harness.make_message(
            "Bob Secret <%s>" % SENDER, "Carol <%s>" % RCPT, marker,
            body=BODY, headers=[BROKEN_SIG]))
    finally:
        s.quit()



def check_arf(raw, marker):
    """One RFC 9991 report: its structure, and nothing private in it."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "feedback-report"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/feedback-report", "text/rfc822-headers"]
    fb = parts[1].as_bytes().decode()
    fb = fb.split("\n\n", 1)[1] if "\n\n" in fb else fb
    fb = re.sub(r"\n[ \t]+", " ", fb.replace("\r", ""))     # unfold
    fields = dict(ln.split(": ", 1) for ln in fb.split("\n") if ": " in ln)
    assert fields["Feedback-Type"] == "auth-failure", fields
    assert fields["Version"] == "1"
    assert fields["User-Agent"] == "sealmail"
    assert fields["Auth-Failure"] == "dmarc"
    assert fields["Source-IP"] == "127.0.0.1"
    assert fields["Reported-Domain"] == "fail.test"
    assert fields["Original-Mail-From"] == "redacted@fail.test"
    assert fields["Identity-Alignment"] == "dkim, spf"
    assert fields["Delivery-Result"] == "delivered"
    assert (fields.get("DKIM-Domain"), fields.get("DKIM-Identity"),
            fields.get("DKIM-Selector")) == ("fail.test", "@fail.test",
                                             "gone"), fields
    assert "dmarc=fail" in fields["Authentication-Results"], fields
    assert "Arrival-Date" in fields
    headers = parts[2].get_content()
    headers = headers if isinstance(headers, str) else headers.decode()
    assert "From: Bob Secret <redacted@fail.test>" in headers, headers
    assert "Carol <redacted@remote.test>" in headers, headers
    # No body, no local part of anyone in the report's parts.
    whole = raw.decode("utf-8", "replace")
    assert BODY not in whole
    assert "Subject: test " + marker in headers
    for p in parts:
        text = p.as_bytes().decode("utf-8", "replace")
        assert "bob.secret" not in text and "carol.private" not in text
        # Message ids are kept (not mailboxes).
        text = re.sub(r"(?m)^Message-ID: .*$", "", text)
        for local in re.findall(r"([A-Za-z0-9._+-]+)@", text):
            assert local == "redacted", (local, text)
    return fields


def test_failure_reports(world):
    a, b, d = world["a"], world["b"], world["d"]
    # D's runner makes its first report run 10 s after the start, and
    # it would take the rows this test hands to `reports send --now`
    # when the test runs late (a pregreet wait, a loaded machine): let it
    # pass first; the next comes a minute later.
    harness.wait_until(lambda: "reports run sent=" in d.log_text(), 30,
                       what="the first report run of D's runner")
    marker = harness.new_marker()
    for i in range(N_FAIL):
        send_failing(b, "%s-b%d" % (marker, i))
        send_failing(d, "%s-d%d" % (marker, i))
    b.mailbox(RCPT).wait_for(marker, count=N_FAIL, timeout=60)
    d.mailbox(RCPT).wait_for(marker, count=N_FAIL, timeout=60)
    time.sleep(2.5)     # the SMTP workers write once a second

    # Off by default: nothing recorded, nothing sent.
    (sent, _, failed), err = env.reports_send(b, "--now")
    assert (sent, failed) == (0, 0), err
    assert "dmarc failure reports" not in err, err

    # On: PER_HOUR reports, the rest dropped with a log line.
    (sent, _, failed), err = env.reports_send(d, "--now")
    assert failed == 0, err
    assert sent == PER_HOUR, err
    assert "dmarc failure reports rows=%d sent=%d dropped_rate=%d" % (
        N_FAIL, PER_HOUR, N_FAIL - PER_HOUR) in err, err
    box = a.mailbox(RUF)
    msgs = harness.wait_until(
        lambda: (lambda ms: ms if len(ms) >= PER_HOUR else None)(
            box.messages()), 60, what="failure reports at %s" % RUF)
    for raw in msgs:
        check_arf(raw, marker)

    # The limit holds across runs (it is in the store): one more failure
    # in the same hour is dropped, and the rows are gone once handled.
    send_failing(d, marker + "-late")
    d.mailbox(RCPT).wait_for(marker + "-late", timeout=30)
    time.sleep(2.5)
    (sent, _, failed), err = env.reports_send(d, "--now")
    assert (sent, failed) == (0, 0), err
    assert "rows=1 sent=0 dropped_rate=1" in err, err
    (sent, _, failed), err = env.reports_send(d, "--now")
    assert "dmarc failure reports rows" not in err, err
    time.sleep(2)
    assert len(box.messages()) == PER_HOUR
    # Nothing from B, ever.
    assert all("127.0.0.2" not in m.decode("utf-8", "replace")
               for m in box.messages())
