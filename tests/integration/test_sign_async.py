# SPDX-License-Identifier: ISC
"""A worker's signatures never hold its event loop: DKIM signing asks the
keys process asynchronously (smtpd_sign.c), and so do the HTTPS and admin
listeners' TLS handshakes (web_server.c, net/tls_handshake.c). The keys
process is stopped (SIGSTOP) to hold a signature outstanding: meanwhile
the one worker answers other sessions and HTTP requests at once; a client
that hangs up mid-signature leaves the worker healthy (run it with
SEALMAIL_SANITIZE=1 for ASan); signatures that do not come within 10 s,
or whose keys process dies, let the message go unsigned, logged, as the
blocking call did."""

import contextlib
import os
import re
import signal
import socket
import ssl
import threading
import time
import urllib.request

import pytest

import harness
from harness import SLOW, client_ctx, make_message, new_marker, wait_until
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
# smtpd_sign.c's SMTPD_SIGN_TIMEOUT
SIGN_TIMEOUT = 10


@pytest.fixture(scope="module")
def one(module_daemons, certs):
    """One worker (so every session shares its loop), a DKIM key for
    example.test, an https listener and a plain admin one."""
    folder = module_daemons.folder()
    key = os.path.join(folder, "example.test.s1.key")
    r = harness.run_cli(None, "dkim", "keygen", "--domain", "example.test",
                        "--selector", "s1", "--type", "ed25519", "--out",
                        key)
    assert r.returncode == 0, r.stderr
    cfg = harness.Config(folder, [certs["ec"]])
    cfg.server["workers"] = "1"
    cfg.server["pregreet_wait"] = "0"
    cfg.listen("mx_plain", "mx", "none")
    cfg.listen("submission", "submission", "starttls")
    cfg.listen("https", "https", "implicit")
    cfg.listen("admin", "admin", "none")
    cfg.domains = []
    cfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                 'dkim_key = %s\n' % key)
    return module_daemons.start(cfg)


def kid(d, comm):
    pids = [p for p, c in d.children() if c == comm]
    assert len(pids) == 1, d.children()
    return pids[0]


@contextlib.contextmanager
def keys_stopped(d):
    """The keys process stopped: every signature stays outstanding."""
    pid = kid(d, "sealmail-keys")
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def ready_to_end(d, marker):
    """A submission authenticated (TLS and AUTH need the keys process)
    with its message sent but for the final dot."""
    c = RawSMTP.to(d["submission"], timeout=30)
    c.ehlo()
    c.starttls()
    c.ehlo()
    c.login(ALICE, harness.USERS[ALICE])
    c.expect("MAIL FROM:<%s>" % ALICE, 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send(make_message(ALICE, ALICE, marker))
    return c


def timed(fn):
    t = time.monotonic()
    out = fn()
    return out, time.monotonic() - t


def admin_get(d, path="/metrics"):
    lst = d["admin"]
    with urllib.request.urlopen("http://%s:%d%s" % (lst.host, lst.port, path),
                                timeout=10 * SLOW) as r:
        return r.status


def plain_ehlo(d):
    with RawSMTP.to(d["mx_plain"]) as c:
        c.ehlo()
        c.expect("QUIT", 221)


def https_hello(d, done):
    """A TLS handshake on the https listener (waits for the signature)."""
    lst = d["https"]
    try:
        with socket.create_connection((lst.host, lst.port),
                                      timeout=40 * SLOW) as raw:
            with client_ctx().wrap_socket(
                    raw, server_hostname=harness.HOSTNAME) as s:
                s.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                          b"Host: mta-sts.example.test\r\n"
                          b"Connection: close\r\n\r\n")
                done.append(s.recv(100))
    except (OSError, ssl.SSLError) as e:
        done.append(e)


def test_https_handshake_waiting_holds_nothing(one):
    """An HTTPS handshake waiting for its signature: the worker's other
    clients (SMTP, admin page) are answered within a second. With the
    blocking call the loop stood still until the call's 10 s timeout."""
    d = one
    worker = kid(d, "sealmail-smtp")
    done = []
    with keys_stopped(d):
        t = threading.Thread(target=https_hello, args=(d, done))
        t.start()
        # The handshake reached the worker and asked for its signature.
        time.sleep(0.5)
        _, took = timed(lambda: plain_ehlo(d))
        assert took < 1.0 * SLOW, "EHLO took %.1f s" % took
        status, took = timed(lambda: admin_get(d))
        assert status == 200 and took < 1.0 * SLOW, \
            "admin page: %s after %.1f s" % (status, took)
        assert not done, done
    t.join(30 * SLOW)
    # The signature came once the keys process went on: the page too.
    assert done and isinstance(done[0], bytes) and \
        done[0].startswith(b"HTTP/1.1 "), done
    assert kid(d, "sealmail-smtp") == worker


def fds(pid):
    return sorted(os.listdir("/proc/%d/fd" % pid), key=int)


def test_https_hangup_while_signing(one):
    """A client that gives up its HTTPS handshake while the signature is
    outstanding: the connection ends at the request deadline, its socket
    is closed once (no other descriptor of the worker with it), and the
    signature that comes later finds the handshake given up."""
    d = one
    worker = kid(d, "sealmail-smtp")
    before = fds(worker)
    assert "0" in before
    lst = d["https"]
    log_before = len(d.log_text())
    with keys_stopped(d):
        with socket.create_connection((lst.host, lst.port)) as raw:
            raw.settimeout(1)
            with pytest.raises((socket.timeout, ssl.SSLError, OSError)):
                client_ctx().wrap_socket(raw,
                                         server_hostname=harness.HOSTNAME)
        # web_server.h's WEB_REQUEST_TIME (10 s) ends it.
        wait_until(lambda: "web timeout listener=https" in
                   d.log_text()[log_before:], 15 * SLOW,
                   what="the request deadline")
        time.sleep(0.3)
    done = []
    https_hello(d, done)
    assert done and isinstance(done[0], bytes) and \
        done[0].startswith(b"HTTP/1.1 "), done
    wait_until(lambda: fds(worker) == before, 5,
               what="the worker's descriptors as before (%r)" % before)
    assert kid(d, "sealmail-smtp") == worker


def test_signatures_waiting_together(one):
    """Two messages waiting for their DKIM signatures, while other sessions
    are answered at once; the keys process silent, both go on (unsigned,
    logged) after the one timeout, not one after the other (a signing
    thread made the second wait for the first's 10 s first)."""
    d = one
    marks = [new_marker(), new_marker()]
    clients = [ready_to_end(d, m) for m in marks]
    replies = [None, None]

    def end(i):
        replies[i] = timed(lambda: clients[i].cmd("."))

    log_before = len(d.log_text())
    with keys_stopped(d):
        threads = [threading.Thread(target=end, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        _, took = timed(lambda: plain_ehlo(d))
        assert took < 1.0 * SLOW, "EHLO took %.1f s" % took
        for t in threads:
            t.join(3 * SIGN_TIMEOUT * SLOW)
    for c in clients:
        c.close()
    for r in replies:
        assert r is not None, replies
        reply, took = r
        queued_id(reply)
        assert took < (SIGN_TIMEOUT + 4) * SLOW, "250 after %.1f s" % took
    for m in marks:
        raw = d.mailbox(ALICE).wait_for(m)[0]
        assert b"DKIM-Signature:" not in raw.split(b"\r\n\r\n")[0]
    log = d.log_text()[log_before:]
    assert log.count("the keys process did not answer in time") == 2, log


def test_hangup_while_signing(one):
    """Clients that go while their signatures are outstanding: the late
    answers find no session, and the worker signs the next message."""
    d = one
    worker = kid(d, "sealmail-smtp")
    clients = [ready_to_end(d, new_marker()) for _ in range(3)]
    with keys_stopped(d):
        for c in clients:
            c.send(".\r\n")
        time.sleep(0.5)
        for c in clients:
            c.close()
        time.sleep(0.5)
    # The answers arrive now, for sessions long gone.
    time.sleep(0.5)
    m = new_marker()
    c = ready_to_end(d, m)
    queued_id(c.cmd("."))
    c.close()
    raw = d.mailbox(ALICE).wait_for(m)[0]
    assert re.search(rb"(?mi)^DKIM-Signature:.* d=example\.test;",
                     raw.split(b"\r\n\r\n")[0].replace(b"\r\n\t", b" ")), \
        raw[:1500]
    assert kid(d, "sealmail-smtp") == worker
    assert "ERROR: AddressSanitizer" not in d.log_text()


def test_keys_process_gone_while_signing(one):
    """The keys process dies with a signature outstanding: the message
    goes on at once, unsigned and logged (not after the timeout)."""
    d = one
    m = new_marker()
    c = ready_to_end(d, m)
    pid = kid(d, "sealmail-keys")
    os.kill(pid, signal.SIGSTOP)
    try:
        c.send(".\r\n")
        time.sleep(0.5)
    finally:
        # SIGKILL ends a stopped process too; no SIGCONT after it, since
        # the master may have reaped it already.
        os.kill(pid, signal.SIGKILL)
    reply, took = timed(c.reply)
    c.close()
    queued_id(reply)
    assert took < SIGN_TIMEOUT / 2 * SLOW, "250 after %.1f s" % took
    raw = d.mailbox(ALICE).wait_for(m)[0]
    assert b"DKIM-Signature:" not in raw.split(b"\r\n\r\n")[0]
    wait_until(lambda: "dkim sign failed" in d.log_text(), 5,
               what="the failure logged")
