# SPDX-License-Identifier: ISC
"""REQUIRETLS (RFC 8689) on the way out, between two sealmail instances:
A (127.0.0.1) sends, C (127.0.0.3, mx.plain.test, the MX of plain.test)
receives on a listener without TLS. A message submitted with REQUIRETLS
must not be sent there: it is bounced with 5.7.10 ("Encryption needed",
§4.2.1), and the DSN returns the original header only (§5), while the
same message without REQUIRETLS is delivered in clear.

Needs nsd and ldnsutils (tests/dns/README.md); skipped without them.
"""

import os
import re

import pytest

import remote_env as env
from remote_env import ALICE

import harness
from harness import Config, new_marker, split_message, wait_until
import mailcheck

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

C_HOST = "127.0.0.3"
C_NAME = "mx.plain.test"
DAVE = "dave@plain.test"


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """DNS (plain.test -> 127.0.0.3), receiver C without TLS on MX_PORT,
    and a sending instance A; everything stopped at the end."""
    base = str(tmp_path_factory.mktemp("requiretls"))
    dnsdir = os.path.join(base, "dns")
    zones = env.write_zones(os.path.join(base, "zones"), {
        "plain.test": "@ MX 10 mx\nmx A %s\n" % C_HOST})
    dns = env.dnsserver.start(dnsdir, zones)
    pool = env.Pool()
    errors = []
    try:
        certs = os.path.join(base, "certs")
        mx_port = env.free_port_everywhere()
        cfg = Config(os.path.join(base, "c"),
                     [harness.make_cert(certs, "c", cn=C_NAME)])
        cfg.server["hostname"] = C_NAME
        cfg.domains = ["plain.test"]
        cfg.listen("mx", "mx", "none", host=C_HOST, port=mx_port)
        env.set_dns(cfg, dns)
        c = pool.start(cfg, provision=provision_c)
        a = pool.start(env.a_config(os.path.join(base, "a"),
                                    harness.make_cert(certs, "a"), dns,
                                    mx_port))
        yield {"a": a, "c": c}
    finally:
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def provision_c(cfg):
    cfg.write()
    harness.cli_ok(cfg.path, "user", "add", DAVE, "--password-stdin",
                   input="dave-Secret-4567\n")


def submit(a, marker, body, options=()):
    """Submit alice -> dave on A over STARTTLS with MAIL options."""
    s = mailcheck.smtp_connect(a["submission"])
    try:
        mailcheck.login(s, ALICE)
        code, resp = s.mail(ALICE, list(options))
        assert code == 250, (code, resp)
        code, resp = s.rcpt(DAVE)
        assert code == 250, (code, resp)
        code, resp = s.data(harness.make_message(ALICE, DAVE, marker,
                                                 body=body))
        assert code == 250, (code, resp)
        return mailcheck.queued_id(mailcheck.Reply(code, [resp.decode()]))
    finally:
        s.quit()


def test_requiretls_to_plaintext_mx_bounces_without_body(plain):
    a, c = plain["a"], plain["c"]
    marker, secret = new_marker(), "secret-" + new_marker()
    qid = submit(a, marker, "The secret is %s." % secret,
                 ["RET=FULL", "REQUIRETLS"])
    line = env.wait_attempt(a, qid, DAVE, "failed")[0]
    assert "5.7.10" in line, line
    dsn = a.mailbox(ALICE).wait_for(marker)[0]
    text = dsn.decode("utf-8", "replace")
    assert re.search(r"^Status: 5\.7\.10\r?$", text, re.M), text
    assert re.search(r"^Diagnostic-Code: .*5\.7\.10", text, re.M), text
    assert "Content-Type: text/rfc822-headers" in text, text
    assert "Subject: test %s" % marker in text
    assert secret not in text, "the DSN returned the body"
    # Nothing of the message reached C.
    assert not c.mailbox(DAVE).with_marker(marker)
    assert not env.log_lines(c, "smtp mail from=<alice@example.test>",
                             "requiretls")
    wait_until(lambda: qid not in a.queue_ids(), 10, what="queue empty")


def test_same_message_without_requiretls_is_delivered(plain):
    """The control: without REQUIRETLS, C gets it (in clear)."""
    a, c = plain["a"], plain["c"]
    marker = new_marker()
    submit(a, marker, "Nothing secret.")
    raw = c.mailbox(DAVE).wait_for(marker)[0]
    head, _ = split_message(raw)
    assert re.search(rb"\bwith ESMTP\s", head), head
