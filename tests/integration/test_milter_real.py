# SPDX-License-Identifier: ISC
"""Real milters (issue 15 item 3), started by the test on loopback:

* OpenDKIM (Debian's `opendkim`) on the submission listener signs a
  submitted message; python3-dkim verifies the signature with the key
  OpenDKIM's `opendkim-genkey` published;
* rspamd (Debian's `rspamd`, its `rspamd_proxy` worker in milter mode,
  scanning itself) on the mx role refuses the GTUBE test message at the
  end of DATA with its own reply, and adds its headers to a clean one.
"""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import time

import dkim
import pytest

import harness

ALICE = "alice@example.test"
BOB = "bob@example.test"
GTUBE = ("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")


def wait_port(port, proc, timeout=60):
    deadline = time.time() + timeout * harness.SLOW
    while time.time() < deadline:
        if proc.poll() is not None:
            raise harness.HarnessError("exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise harness.HarnessError("port %d never opened" % port)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def message(frm, to, subject, body="Hello.\r\n"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n"
            "Date: Sun, 06 Dec 2026 01:00:00 +0000\r\n\r\n%s"
            % (frm, to, subject, subject.replace(" ", "."), body)).encode()


@pytest.fixture
def opendkim(tmp_path):
    if shutil.which("opendkim") is None:
        pytest.fail("opendkim is not installed (scripts/install-deps.sh)")
    d = str(tmp_path)
    subprocess.run(["opendkim-genkey", "-D", d, "-d", "example.test", "-s",
                    "odk"], check=True)
    port = harness.free_port()
    conf = os.path.join(d, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Syslog no\nMode s\nDomain example.test\nSelector odk\n"
                "KeyFile %s/odk.private\nSocket inet:%d@127.0.0.1\n"
                "Canonicalization simple/simple\nBackground no\n"
                "PidFile %s/odk.pid\nRequireSafeKeys no\n" % (d, port, d))
    proc = subprocess.Popen(["opendkim", "-f", "-x", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "opendkim.log"), "w"))
    try:
        wait_port(port, proc)
        with open(os.path.join(d, "odk.txt")) as f:
            record = "".join(re.findall(r'"([^"]*)"', f.read()))
        yield port, record
    finally:
        stop(proc)


def test_opendkim_signs_submission(daemons, certs, opendkim):
    port, record = opendkim
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.extra = ('\n[milter "opendkim"]\naddress = inet:127.0.0.1:%d\n'
                 'listeners = submissions\n' % port)
    d = daemons.start(cfg)
    lst = d["submissions"]
    with smtplib.SMTP_SSL(lst.host, lst.port, timeout=30,
                          context=harness.client_ctx()) as s:
        s.login(ALICE, harness.USERS[ALICE])
        # A folded field: simple header canonicalization needs the
        # field as we have it, folds included.
        s.sendmail(ALICE, [BOB], message(ALICE, BOB, "odk signed",
                                         "Line one.\r\n\r\nLine  three.\r\n")
                   .replace(b"To: <", b"To: Bob\r\n  <"))
    raw = d.mailbox(BOB).wait_for("odk signed")[0].replace(b"\n", b"\r\n")
    assert b"d=example.test" in raw and b"s=odk" in raw, raw

    def dnsfunc(name, timeout=5):
        assert name == b"odk._domainkey.example.test."
        return record.encode()
    assert dkim.verify(raw, dnsfunc=dnsfunc), raw
    # The signature is over the message as delivered: a changed body
    # fails, so the check above is not vacuous.
    assert not dkim.verify(raw.replace(b"Line one.", b"Line 1."),
                           dnsfunc=dnsfunc)


RSPAMD_CONF = """\
.include "$CONFDIR/common.conf"
options {
    pidfile = "%(dir)s/rspamd.pid";
    .include "$CONFDIR/options.inc"
    dns { nameserver = ["%(dns)s"]; timeout = 1s; retransmits = 1; }
}
logging {
    type = "file";
    filename = "%(dir)s/rspamd.log";
    level = "info";
}
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:%(port)d";
    milter = yes;
    timeout = 120s;
    upstream "local" { default = yes; self_scan = yes; }
    count = 1;
}
"""

# Its headers on every message, local and authenticated clients too.
RSPAMD_HEADERS = """\
extended_spam_headers = true;
skip_local = false;
skip_authenticated = false;
use = ["x-spamd-result", "x-rspamd-server", "x-rspamd-queue-id"];
"""


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    """rspamd's milter proxy scanning by itself (no normal worker, no
    controller, no redis), with the configuration Debian ships plus ours:
    $LOCAL_CONFDIR, $DBDIR, $RUNDIR and $LOGDIR point into a temp folder,
    DNS to the suite's loopback resolver (NXDOMAIN for all)."""
    if shutil.which("rspamd") is None:
        pytest.fail("rspamd is not installed (scripts/install-deps.sh)")
    d = str(tmp_path_factory.mktemp("rspamd"))
    os.makedirs(os.path.join(d, "local.d"))
    os.makedirs(os.path.join(d, "db"))
    port = harness.free_port()
    host, _, dport = harness.DNS_RESOLVER.partition("@")
    with open(os.path.join(d, "rspamd.conf"), "w") as f:
        f.write(RSPAMD_CONF % {"dir": d, "port": port,
                               "dns": "%s:%s" % (host, dport or "53")})
    with open(os.path.join(d, "local.d", "milter_headers.conf"), "w") as f:
        f.write(RSPAMD_HEADERS)
    proc = subprocess.Popen(
        ["rspamd", "-f", "-i", "-c", os.path.join(d, "rspamd.conf"),
         "--var", "LOCAL_CONFDIR=" + d, "--var", "DBDIR=" + d + "/db",
         "--var", "RUNDIR=" + d, "--var", "LOGDIR=" + d],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "err"), "w"))
    try:
        # It compiles its URL and regexp tables first: 30 s or more on a
        # loaded machine.
        wait_port(port, proc, timeout=180)
        yield port
    finally:
        stop(proc)


def test_rspamd_gtube_refused_clean_gets_headers(daemons, certs, rspamd):
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.extra = ('\n[milter "rspamd"]\naddress = inet:127.0.0.1:%d\n'
                 'roles = mx\ncontent_timeout = 2m\n' % rspamd)
    d = daemons.start(cfg)
    lst = d["mx_plain"]
    with smtplib.SMTP(lst.host, lst.port, timeout=180) as s:
        s.ehlo("client.sender.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("x@sender.test", [ALICE], message(
                "x@sender.test", ALICE, "gtube one", GTUBE + "\r\n"))
        # rspamd's own reply, as it wrote it (our check: one valid line).
        assert e.value.smtp_code == 554, e.value
        assert b"Gtube pattern" in e.value.smtp_error, e.value
        s.sendmail("x@sender.test", [ALICE], message(
            "x@sender.test", ALICE, "clean one",
            "A perfectly ordinary message.\r\n"))
    raw = d.mailbox(ALICE).wait_for("clean one")[0]
    head = raw.split(b"\n\n")[0]
    assert re.search(rb"\nX-Spamd-Result: default: False \[", head), head
    assert b"\nX-Rspamd-Queue-Id: " in head, head
    assert not d.mailbox(ALICE).with_marker("gtube one")
    assert "milter=rspamd result=reject" in d.log_text()
