# SPDX-License-Identifier: ISC
"""Mail loops between two servers (issue 10 item 4): two real sealmail
instances, A (127.0.0.1, mx.loopa.test) and B (127.0.0.2, mx.loopb.test),
each the MX of its own domain in the test DNS server, with aliases that
point at each other: fwd@loopa.test -> fwd@loopb.test and back.

Forwarding for an alias writes "Delivered-To: <alias>" into the copy
sent on, and a message that comes back for an alias it already names is
bounced with 5.4.6 instead of being forwarded again: the loop ends after
one round, in a DSN to the original sender. A queued message with more
Received fields than max_hops (here from `sendmail`) is bounced rather
than sent. Before this, the two aliases bounced a message back and forth
without end (200+ hops in 16 s).
"""

import os
import re
import subprocess
import time

import pytest

import remote_env as env
import harness
from harness import make_message, new_marker
import mailcheck

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"
SENDER = "alice@loopa.test"
SENDER_PW = "alice-Loop-Secret-0123"
ZONES = {
    "test": "",     # see remote_env.ZONES
    "loopa.test": "@ MX 10 mx\nmx A 127.0.0.1\n",
    "loopb.test": "@ MX 10 mx\nmx A 127.0.0.2\n",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("loop"))
    with env.dns_world(base, ZONES, (A_HOST, B_HOST)) as w:
        a_cfg = env.mx_instance(w, base, "a", "mx.loopa.test", A_HOST,
                                ["loopa.test"], submission=True)
        b_cfg = env.mx_instance(w, base, "b", "mx.loopb.test", B_HOST,
                                ["loopb.test"], submission=True)
        b = w["pool"].start(b_cfg, provision=env.provision_accounts(
            aliases=[("fwd@loopb.test", "fwd@loopa.test")]))
        a = w["pool"].start(a_cfg, provision=env.provision_accounts(
            [(SENDER, SENDER_PW)], [("fwd@loopa.test", "fwd@loopb.test")]))
        yield {"a": a, "b": b}


def submit(a, rcpt, msg):
    s = mailcheck.smtp_connect(a["submission"])
    try:
        code, _ = s.login(SENDER, SENDER_PW)
        assert code == 235
        return mailcheck.send(s, SENDER, [rcpt], msg)
    finally:
        s.quit()


def dsn_fields(raw):
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    return dict(re.findall(r"^(Status|Action|Final-Recipient|"
                           r"Diagnostic-Code): *(.*)$", text, re.M))


def deliveries(d):
    """Delivery attempt lines of a daemon's log."""
    return [ln for ln in d.log_text().splitlines()
            if " delivery rcpt=" in ln]


def test_alias_loop_between_two_servers_bounces_5_4_6(world):
    a, b = world["a"], world["b"]
    marker = new_marker()
    t0 = time.monotonic()
    submit(a, "fwd@loopa.test", make_message(SENDER, "fwd@loopa.test",
                                             marker))
    # The loop ends in a DSN to the original sender, within seconds.
    dsn = a.mailbox(SENDER).wait_for(marker, timeout=30 * harness.SLOW)[0]
    took = time.monotonic() - t0
    f = dsn_fields(dsn)
    assert f.get("Status") == "5.4.6", f
    assert f.get("Action") == "failed", f
    assert "fwd@loopb.test" in f.get("Final-Recipient", ""), f
    assert "loop" in f.get("Diagnostic-Code", "").lower(), f
    # The returned message shows the one round it made: both aliases
    # named in Delivered-To, a handful of Received fields.
    text = dsn.decode("utf-8", "replace")
    assert "Delivered-To: fwd@loopa.test" in text, text[-2000:]
    assert "Delivered-To: fwd@loopb.test" in text, text[-2000:]
    # Bounded: one forward each way, then the refusal; nothing after.
    time.sleep(2)
    da, db = deliveries(a), deliveries(b)
    assert len(da) <= 4 and len(db) <= 2, (da, db)
    assert sum("result=failed" in ln and "5.4.6" in ln for ln in da) == 1, \
        da
    assert len(re.findall(r"^Received:", text, re.M)) <= 6, text
    print("loop ended in a 5.4.6 DSN after %.2f s; A %d, B %d delivery "
          "attempts" % (took, len(da), len(db)))


def test_queued_message_past_max_hops_is_bounced(world):
    """A message with more Received fields than max_hops: sendmail through
    the daemon's socket is refused at once (554 5.4.6); one that reaches
    our own queue anyway (root's sendmail writes the spool itself when the
    daemon does not answer) is bounced to its sender, not sent (B sees
    nothing)."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    hops = ["Received: from h%d.example by h%d.example; "
            "Thu, 01 Jan 2026 00:00:00 +0000" % (i, i + 1)
            for i in range(101)]
    msg = make_message(SENDER, "someone@loopb.test", marker, headers=hops)

    def sendmail(cfg_path):
        return subprocess.run([harness.sealmail_bin(), "-c", cfg_path,
                               "sendmail", "-f", SENDER,
                               "someone@loopb.test"],
                              input=msg.replace(b"\r\n", b"\n"),
                              capture_output=True,
                              timeout=30 * harness.SLOW)

    r = sendmail(a.cfg.path)
    assert r.returncode == 1 and b"5.4.6" in r.stderr, r
    direct = os.path.join(os.path.dirname(a.cfg.path), "direct.conf")
    with open(a.cfg.path) as f:
        text = f.read()
    with open(direct, "w") as f:
        f.write(text.replace(a.cfg.server["submit_socket"],
                             a.cfg.server["submit_socket"] + ".none"))
    r = sendmail(direct)
    assert r.returncode == 0, r.stderr
    dsn = a.mailbox(SENDER).wait_for(marker, timeout=30 * harness.SLOW)[0]
    f = dsn_fields(dsn)
    assert f.get("Status") == "5.4.6", f
    assert "someone@loopb.test" in f.get("Final-Recipient", ""), f
    assert not [ln for ln in deliveries(b) if "someone@loopb.test" in ln]
    assert not [ln for ln in b.log_text().splitlines()
                if "rcpt to=<someone@loopb.test>" in ln]
