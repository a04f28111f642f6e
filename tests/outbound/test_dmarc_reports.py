# SPDX-License-Identifier: ISC
"""DMARC aggregate reports sent (RFC 9990), end to end: instance A
(mail.example.test, DKIM-signing example.test) sends mail to instance B
(mx.remote.test); B evaluates DMARC for example.test, whose record asks
for reports at dmarc-rua@example.test, a mailbox of A. `sealmail reports
send --now` on B must deliver to A a DKIM-signed report whose gzip
attachment has the RFC 9990 file name and XML that validates against the
RFC's schema with counts equal to the messages sent. Also: --to-dir is a
dry run, a second --now sends nothing, and an external destination
(RFC 9990 §4) is used only when it publishes the _report._dmarc record,
and not at all when that record's rua names another host.
"""
import email
import email.policy
import gzip
import os
import re
import subprocess
import time

import pytest

import remote_env as env
from remote_env import harness, dnsserver

dkim = pytest.importorskip("dkim")

XSD = os.path.join(env.ROOT, "tests", "data", "dmarc", "rfc9990.xsd")
NS = "urn:ietf:params:xml:ns:dmarc-2.0"
RUA = "dmarc-rua@example.test"
RUA_PW = "rua-Secret-01234"
# Messages of each stream.
N_SIGNED = 3
N_EXT = 2


def b_key_zone(record):
    return ("@ MX 10 mx\nmx A 127.0.0.2\n"
            's1._domainkey TXT "%s"\n' % record)


def ext_zone():
    return ('@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
            '_dmarc TXT "v=DMARC1; p=none; rua=mailto:%s!10m"\n' % RUA)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("dmarcrep"))
    a_dir = os.path.join(base, "a")
    b_dir = os.path.join(base, "b")
    os.makedirs(a_dir)
    os.makedirs(b_dir)
    a_key, a_rec = env.dkim_key(a_dir)
    b_key, b_rec = env.dkim_key(b_dir, domain=env.B_DOMAIN)
    zones = {
        "test": "",
        # A: MX on 127.0.0.1, signs as s1, asks for aggregate reports
        # (with the obsolete !size suffix), and authorises reports about
        # ext-ok.test but not about ext-no.test (RFC 9990 §4), and about
        # ext-ovr.test with a rua elsewhere: no report to either (step 9).
        "example.test": (
            "@ MX 10 mail\nmail A 127.0.0.1\n"
            '@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
            '_dmarc TXT "v=DMARC1; p=none; rua=mailto:%s!10m"\n'
            's1._domainkey TXT "%s"\n'
            'ext-ok.test._report._dmarc TXT "v=DMARC1"\n'
            'ext-ovr.test._report._dmarc TXT '
            '"v=DMARC1; rua=mailto:rua@elsewhere.test"\n' % (RUA, a_rec)),
        env.B_DOMAIN: b_key_zone(b_rec),
        "ext-ok.test": ext_zone(),
        "ext-no.test": ext_zone(),
        "ext-ovr.test": ext_zone(),
    }
    zfiles = env.write_zones(os.path.join(base, "zones"), zones)
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, zfiles)
    pool = env.Pool()
    errors = []
    try:
        certs = os.path.join(base, "certs")
        mx_port = env.free_port_everywhere()
        bcfg = env.b_config(b_dir, harness.make_cert(certs, "b",
                                                     cn=env.B_NAME),
                            dns, mx_port)
        bcfg.domains = []
        bcfg.delivery["mx_port"] = str(mx_port)
        bcfg.extra = ('\n[domain "%s"]\ndkim_selector = s1\n'
                      'dkim_key = %s\n' % (env.B_DOMAIN, b_key))

        def provision_b(cfg):
            cfg.write()
            harness.cli_ok(cfg.path, "user", "add", env.CAROL,
                           "--password-stdin", input=env.CAROL_PW + "\n")
        b = pool.start(bcfg, provision=provision_b)
        acfg = env.a_config(a_dir, harness.make_cert(certs, "a"), dns,
                            mx_port)
        acfg.listen("mx", "mx", "starttls", port=mx_port)
        acfg.domains = []
        acfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                      'dkim_key = %s\n' % a_key)

        def provision_a(cfg):
            harness.provision(cfg)
            harness.cli_ok(cfg.path, "user", "add", RUA, "--password-stdin",
                           input=RUA_PW + "\n")
        a = pool.start(acfg, provision=provision_a)
        yield {"a": a, "b": b, "base": base, "b_rec": b_rec}
    finally:
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def send_direct(b, frm, marker):
    """A message from frm straight to B's plain mx listener (from
    127.0.0.1, which the sender's SPF allows)."""
    s = env.mailcheck.smtp_connect(b["mx_plain"])
    try:
        s.sendmail(frm, [env.CAROL],
                   harness.make_message(frm, env.CAROL, marker))
    finally:
        s.quit()


def reports_send(b, *args):
    r = b.cli("reports", "send", *args)
    assert r.returncode == 0, r.stderr
    m = re.search(r"reports run.* sent=(\d+) written=(\d+) failed=(\d+)",
                  r.stderr)
    assert m, r.stderr
    return [int(x) for x in m.groups()], r.stderr


def xml_valid(path):
    r = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", XSD,
                        path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return True


def counts(xml):
    """(sum of record counts, header_from domains) of a report."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(xml)
    q = "{%s}" % NS
    total = 0
    froms = set()
    for rec in root.findall(q + "record"):
        total += int(rec.find(q + "row/" + q + "count").text)
        froms.add(rec.find(q + "identifiers/" + q + "header_from").text)
    return total, froms, root


FILENAME = re.compile(r"^remote\.test!([a-z.-]+)!(\d+)!(\d+)!([0-9a-f]{32})"
                      r"\.xml\.gz$")


def test_dmarc_aggregate_reports(world):
    a, b = world["a"], world["b"]
    marker = harness.new_marker()
    for i in range(N_SIGNED):
        env.submit(a, [env.CAROL], "%s-%d" % (marker, i))
    for i in range(N_EXT):
        send_direct(b, "bob@ext-ok.test", "%s-ok%d" % (marker, i))
        send_direct(b, "bob@ext-no.test", "%s-no%d" % (marker, i))
        send_direct(b, "bob@ext-ovr.test", "%s-ovr%d" % (marker, i))
    b.mailbox(env.CAROL).wait_for(marker, count=N_SIGNED + 3 * N_EXT,
                                  timeout=60)
    # The SMTP workers write evaluations once a second.
    time.sleep(2.5)

    # Dry run: files written, nothing queued, nothing marked.
    out = os.path.join(world["base"], "dry")
    os.makedirs(out)
    (sent, written, failed), _ = reports_send(b, "--now", "--to-dir", out)
    assert sent == 0 and failed == 0
    files = sorted(os.listdir(out))
    assert len(files) == 2 and written == 2, files
    by_dom = {}
    for f in files:
        m = FILENAME.match(f)
        assert m, f
        by_dom[m.group(1)] = f
    assert set(by_dom) == {"example.test", "ext-ok.test"}
    for f in files:
        xml = gzip.open(os.path.join(out, f)).read()
        p = os.path.join(out, f[:-3])
        with open(p, "wb") as fh:
            fh.write(xml)
        assert xml_valid(p)
    dry = gzip.open(os.path.join(out, by_dom["example.test"])).read()
    assert counts(dry)[0] == N_SIGNED

    # The real run: two reports, to A.
    (sent, written, failed), err = reports_send(b, "--now")
    assert (sent, written, failed) == (2, 0, 0), err
    assert "refused" in err and "ext-no.test" in err, err
    assert re.search(r"destination .*for .*ext-ovr\.test.*: refused", err), \
        err
    box = a.mailbox(RUA)
    msgs = harness.wait_until(
        lambda: (lambda ms: ms if len(ms) >= 2 else None)(box.messages()),
        60, what="two reports at %s" % RUA)
    seen = {}
    for raw in msgs:
        crlf = re.sub(rb"(?<!\r)\n", b"\r\n", raw)

        def dnsfunc(name, timeout=5):
            assert name == b"s1._domainkey.remote.test.", name
            return world["b_rec"].encode()
        assert dkim.verify(crlf, dnsfunc=dnsfunc), raw[:2000]
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["From"].addresses[0].addr_spec == \
            "noreply-reports@remote.test"
        subj = " ".join(str(msg["Subject"]).split())
        m = re.match(r"^Report Domain: (\S+) Submitter: remote\.test "
                     r"Report-ID: <([0-9a-f]{32})>$", subj)
        assert m, subj
        parts = [p for p in msg.iter_attachments()]
        assert len(parts) == 1
        part = parts[0]
        assert part.get_content_type() == "application/gzip"
        fname = part.get_filename()
        fm = FILENAME.match(fname)
        assert fm and fm.group(1) == m.group(1), (fname, subj)
        assert fm.group(4) == m.group(2)
        xml = gzip.decompress(part.get_content())
        p = os.path.join(world["base"], fname[:-3])
        with open(p, "wb") as fh:
            fh.write(xml)
        assert xml_valid(p)
        total, froms, root = counts(xml)
        q = "{%s}" % NS
        assert root.find(q + "report_metadata/" + q + "report_id").text == \
            m.group(2)
        pub = root.find(q + "policy_published")
        assert pub.find(q + "domain").text == m.group(1)
        assert pub.find(q + "p").text == "none"
        seen[m.group(1)] = (total, froms)
        # The period starts at today's 00:00 UTC (daily interval).
        assert int(fm.group(2)) == int(time.time()) // 86400 * 86400
        # The dry run's file had the same name (same period start).
        if m.group(1) in by_dom:
            assert by_dom[m.group(1)].split("!")[2] == fm.group(2)
    assert seen == {"example.test": (N_SIGNED, {"example.test"}),
                    "ext-ok.test": (N_EXT, {"ext-ok.test"})}, seen

    # Everything is reported: a second run sends nothing new.
    (sent, written, failed), err = reports_send(b, "--now")
    assert (sent, failed) == (0, 0), err
    time.sleep(2)
    assert len(box.messages()) == 2


def test_concurrent_runs_send_once(world):
    """The queue runner and the CLI (here: two CLI runs at once) claim the
    job in the store: new data is reported exactly once."""
    a, b = world["a"], world["b"]
    box = a.mailbox(RUA)
    before = len(box.messages())
    marker = harness.new_marker()
    env.submit(a, [env.CAROL], marker)
    b.mailbox(env.CAROL).wait_for(marker, timeout=60)
    time.sleep(2.5)
    cmd = [harness.sealmail_bin(), "-c", b.cfg.path, "reports", "send",
           "--now"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    sent = 0
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        m = re.search(r"reports run now sent=(\d+) written=0 failed=0",
                      err)
        assert m, err
        sent += int(m.group(1))
    assert sent == 1
    harness.wait_until(lambda: len(box.messages()) == before + 1, 60,
                       what="the new report")
    time.sleep(2)
    assert len(box.messages()) == before + 1
    new = [m for m in box.messages() if b"Report Domain" in m]
    assert len(new) == before + 1
    # The queue runner ran the job on its own (10 s after its start) and
    # had nothing to send: no period had ended.
    lines = env.wait_log(b, "reports run sent=", timeout=30)
    assert "sent=0" in lines[0], lines
