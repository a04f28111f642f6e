# SPDX-License-Identifier: ISC
"""SMTP AUTH against a real Dovecot ([auth] passdb = dovecot:PATH): PLAIN
and LOGIN checked by Dovecot's passwd-file passdb over its auth-client
socket, the same failure delays as the internal passdb, address ownership
from the name Dovecot returns and the alias table, 454 while Dovecot is
down and a reconnect once it is back."""

import os
import smtplib
import tempfile
import time

import pytest

import dovecot
from harness import (SLOW, Config, Daemon, USERS, cli_ok, client_ctx,
                     make_message, new_marker, provision, wait_until)
from smtpraw import RawSMTP

CAROL = "carol@example.test"
CAROL_PW = "carol-dovecot-pw"
CAROL_ALIAS = "carol.alias@example.test"
BOB = "bob@example.test"
ALICE = "alice@example.test"
# A Dovecot user name without a domain: with one local domain it is
# dave@example.test.
DAVE, DAVE_PW = "dave", "dave-dovecot-pw"


@pytest.fixture(scope="module")
def dove(certs):
    """A daemon whose passdb is a Dovecot started here; carol and dave
    exist only in Dovecot, and in the store without a password."""
    dovecot.require()
    base = tempfile.mkdtemp(prefix="sealmail-dvauth-", dir="/tmp")
    os.chmod(base, 0o755)
    cfg = Config(base, [certs["ec"]])
    cfg.listen("submission", "submission", "starttls")
    cfg.listen("submissions", "submission", "implicit")
    dc = dovecot.Dovecot(os.path.join(base, "dovecot"), cfg.data_dir,
                         auth_users={CAROL: CAROL_PW, DAVE: DAVE_PW})
    os.makedirs(dc.base)
    os.chmod(dc.base, 0o755)
    cfg.auth["passdb"] = "dovecot:" + dc.auth_sock
    provision(cfg)
    for addr in (CAROL, DAVE + "@example.test"):
        cli_ok(cfg.path, "user", "add", addr, "--no-password")
    cli_ok(cfg.path, "alias", "add", CAROL_ALIAS, CAROL)
    yield from dovecot.serve(dc, Daemon(cfg), base)


def send(smtp, frm, to=BOB):
    marker = new_marker()
    refused = smtp.sendmail(frm, [to], make_message(frm, to, marker))
    assert refused == {}, refused
    return marker


def test_plain_over_implicit_tls(dove):
    d, _ = dove
    with smtplib.SMTP_SSL(d["submissions"].host, d["submissions"].port,
                          context=client_ctx(), timeout=20 * SLOW) as s:
        s.ehlo("client.example.test")
        s.login(CAROL, CAROL_PW)    # PLAIN: the first offered
        m1 = send(s, CAROL)
        m2 = send(s, CAROL_ALIAS)
    box = d.mailbox(BOB)
    box.wait_for(m1)
    box.wait_for(m2)
    # The store holds no password for carol: Dovecot said yes.
    assert 'smtp auth result=ok user="%s"' % CAROL in d.log_text()


def test_login_over_starttls(dove):
    d, _ = dove
    with smtplib.SMTP(d["submission"].host, d["submission"].port,
                      timeout=20 * SLOW) as s:
        s.starttls(context=client_ctx())
        s.ehlo("client.example.test")
        s.user, s.password = CAROL, CAROL_PW
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235, (code, text)
        d.mailbox(BOB).wait_for(send(s, CAROL_ALIAS))


def test_wrong_password_is_535_after_the_delay(dove):
    d, _ = dove
    with RawSMTP.to(d["submissions"], source="127.0.0.31",
                    timeout=30) as c:
        c.ehlo()
        t = time.monotonic()
        r = c.auth_plain(CAROL, "not-the-password")
        took = time.monotonic() - t
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
        # The first failure from an address waits 1 s, as internal.
        assert took >= 0.9, took
        # A store password is no Dovecot password.
        r = c.auth_plain(ALICE, USERS[ALICE])
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
        c.expect("NOOP", 250)
    log = d.log_text()
    assert ('result=fail user="%s" addr=127.0.0.31 failures=1 delay=1s'
            % CAROL in log), log[-2000:]
    assert "addr=127.0.0.31 failures=2 delay=2s" in log, log[-2000:]


def test_mail_from_not_owned_is_refused(dove):
    d, _ = dove
    with RawSMTP.to(d["submissions"], source="127.0.0.32") as c:
        c.ehlo()
        c.login(CAROL, CAROL_PW)
        r = c.cmd("MAIL FROM:<%s>" % BOB)
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        c.expect("MAIL FROM:<%s>" % CAROL_ALIAS, 250)


def test_bare_dovecot_name_owns_its_address(dove):
    d, _ = dove
    with RawSMTP.to(d["submissions"], source="127.0.0.33") as c:
        c.ehlo()
        c.login(DAVE, DAVE_PW)
        c.expect("MAIL FROM:<dave@example.test>", 250)
        c.expect("RSET", 250)
        r = c.cmd("MAIL FROM:<%s>" % CAROL)
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
    assert 'smtp auth result=ok user="dave@example.test"' in d.log_text()


def auth_reply(d, password=CAROL_PW):
    with RawSMTP.to(d["submissions"], source="127.0.0.34") as c:
        c.ehlo()
        return c.auth_plain(CAROL, password)


def test_dovecot_down_is_454_then_reconnects(dove):
    d, dc = dove
    assert auth_reply(d).code == 235
    dc.stop()
    try:
        # Every worker notices (its connection closes): 454, never 535,
        # and the failure counter of the address stays untouched.
        for _ in range(4):
            r = auth_reply(d)
            assert (r.code, r.enhanced) == (454, "4.7.0"), r
    finally:
        dc.start()
    # Workers reconnect within their backoff (at most 8 s); then every
    # login works, whichever worker takes it.
    wait_until(lambda: all(auth_reply(d).code == 235 for _ in range(4)),
               20, interval=0.5, what="logins through Dovecot again")
    mine = [ln for ln in d.log_text().splitlines() if "127.0.0.34" in ln]
    assert any('smtp auth result=tempfail user="%s" addr=127.0.0.34: '
               % CAROL in ln for ln in mine), mine
    assert not any("failures=" in ln for ln in mine), mine


def test_internal_passdb_and_no_password_accounts(daemons, certs):
    """With the internal passdb, AUTH is unchanged, and an account made
    with --no-password cannot log in with any password."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    d = daemons.start(cfg)
    cli_ok(cfg.path, "user", "add", CAROL, "--no-password")
    with RawSMTP.to(d["submissions"], source="127.0.0.35",
                    timeout=30) as c:
        c.ehlo()
        for pw in ("!", "x"):
            r = c.auth_plain(CAROL, pw)
            assert (r.code, r.enhanced) == (535, "5.7.8"), (pw, r)
        c.login(ALICE, USERS[ALICE])
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
