# SPDX-License-Identifier: ISC
"""Addresses end to end: one canonical form from RCPT to the Maildir
(UTF-8 and quoted local parts), postmaster always accepted, the role
aliases made by `init --postmaster` and the first `user add` of a domain,
recipient_delimiter, and the sender fields a submission must own."""

import os
import time

import pytest

from harness import USERS, make_message, new_marker, run_cli, wait_until
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
BOB = "bob@example.test"
JUERGEN = "j\u00fcrgen@example.test"
SECOND = "second.test"          # a local domain without accounts


@pytest.fixture(scope="module")
def mta(module_daemons, certs):
    """The standard daemon plus a second local domain with no account."""
    cfg = module_daemons.config([certs["ec"]])
    cfg.domains.append(SECOND)
    return module_daemons.start(cfg)


def mx_deliver(mta, rcpts, marker, smtputf8=False, frm="someone@remote.test"):
    """Send one message over mx_plain to every RCPT (each must be 250)."""
    with RawSMTP.to(mta["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>%s" % (frm, " SMTPUTF8" if smtputf8 else ""),
                 250)
        for r in rcpts:
            c.expect("RCPT TO:<%s>" % r, 250)
        qid = queued_id(c.data(make_message(frm, rcpts[0], marker)))
        c.expect("QUIT", 221)
    return qid


def rcpt_reply(mta, rcpt):
    """The reply to RCPT TO:<rcpt> after a MAIL FROM on mx_plain."""
    with RawSMTP.to(mta["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        return c.cmd("RCPT TO:<%s>" % rcpt)


def cli_ok(mta, *args, input=None):
    r = mta.cli(*args, input=input)
    assert r.returncode == 0, "%s: %s" % (args, r.stderr)
    return r


# ------------------------------------------------------------- item 1

def test_utf8_local_part_user_receives(mta):
    """`user add jürgen@` then SMTPUTF8 RCPT TO:<jürgen@>: accepted (it was
    550 with the log-escaped text looked up) and in jürgen's Maildir."""
    cli_ok(mta, "user", "add", JUERGEN, "--password-stdin",
           input="juergen-Secret-0123\n")
    marker = new_marker()
    mx_deliver(mta, [JUERGEN], marker, smtputf8=True)
    mta.mailbox(JUERGEN).wait_for(marker)
    path = os.path.join(mta.data_dir, "mail", "example.test",
                        "j\u00fcrgen", "Maildir")
    assert os.path.isdir(path.encode()), path


def test_utf8_rcpt_needs_smtputf8(mta):
    r = rcpt_reply(mta, JUERGEN)
    assert (r.code, r.enhanced) == (553, "5.6.7"), r


def test_quoted_local_part_is_the_same_mailbox(mta):
    """RCPT TO:<"bob"@example.test> is bob@ (RFC 5321 §4.1.2)."""
    marker = new_marker()
    mx_deliver(mta, ['"bob"@example.test'], marker)
    msgs = mta.mailbox(BOB).wait_for(marker)
    assert len(msgs) == 1
    # and the same recipient twice in two spellings is one delivery
    marker = new_marker()
    mx_deliver(mta, ['"bob"@example.test', "Bob@EXAMPLE.test"], marker)
    mta.mailbox(BOB).wait_for(marker)
    time.sleep(0.5)
    assert len(mta.mailbox(BOB).with_marker(marker)) == 1


def test_quoted_user_name_is_stored_canonical(mta):
    r = cli_ok(mta, "user", "add", '"carol"@Example.TEST',
               "--password-stdin", input="carol-Secret-0123\n")
    assert "carol@example.test" in cli_ok(mta, "user", "list").stdout
    assert '"carol"' not in cli_ok(mta, "user", "list").stdout, r.stdout


def test_unsafe_local_part_never_becomes_a_path(mta):
    """a/b@ is a valid address ('/' is atext) and may be an account, but
    it is no safe folder name: delivery fails permanently and nothing is
    written at DATA/mail/example.test/a/."""
    cli_ok(mta, "user", "add", "a/b@example.test", "--password-stdin",
           input="slash-Secret-0123\n")
    qid = mx_deliver(mta, ["a/b@example.test"], new_marker())
    wait_until(lambda: "qid=%s queue removed" % qid in mta.log_text(), 15,
               what="the message to a/b@ to be dealt with")
    assert "delivered=0 failed=1" in [
        l for l in mta.log_text().splitlines()
        if "qid=%s queue removed" % qid in l][0]
    assert not os.path.exists(os.path.join(mta.data_dir, "mail",
                                           "example.test", "a"))


# ------------------------------------------------------------- item 2

@pytest.mark.parametrize("rcpt", ["postmaster", "POSTMASTER", "PostMaster",
                                  "postmaster@example.test",
                                  "Postmaster@EXAMPLE.TEST"])
def test_postmaster_accepted_and_delivered(mta, rcpt):
    """RFC 5321 §4.5.1: <Postmaster> (no domain, any case) and postmaster@
    a local domain; the first user add made postmaster@ an alias of alice."""
    marker = new_marker()
    mx_deliver(mta, [rcpt], marker)
    mta.mailbox(ALICE).wait_for(marker)


def test_postmaster_without_alias_goes_to_first_user(mta):
    """No alias, no catch-all: still accepted, to the domain's oldest
    account; a domain without accounts falls back to the oldest of all."""
    assert "postmaster@example.test" in cli_ok(mta, "alias", "list").stdout
    cli_ok(mta, "alias", "del", "postmaster@example.test")
    try:
        marker = new_marker()
        mx_deliver(mta, ["postmaster@example.test"], marker)
        mta.mailbox(ALICE).wait_for(marker)
        marker = new_marker()
        mx_deliver(mta, ["postmaster@" + SECOND], marker)
        mta.mailbox(ALICE).wait_for(marker)
        # other role names get no such fallback
        r = rcpt_reply(mta, "abuse@" + SECOND)
        assert (r.code, r.enhanced) == (550, "5.1.1"), r
    finally:
        cli_ok(mta, "alias", "add", "postmaster@example.test", ALICE)


def test_first_user_of_domain_gets_role_aliases(mta):
    out = cli_ok(mta, "alias", "list").stdout
    for role in ("postmaster", "abuse", "root"):
        assert "%s@example.test %s" % (role, ALICE) in out, out
    # the second account of the domain changes nothing
    assert "@example.test %s" % BOB not in out
    r = cli_ok(mta, "user", "add", "dave@" + SECOND, "--password-stdin",
               input="dave-Secret-01234\n")
    assert "postmaster@%s" % SECOND in r.stdout, r.stdout
    out = cli_ok(mta, "alias", "list").stdout
    for role in ("postmaster", "abuse", "root"):
        assert "%s@%s dave@%s" % (role, SECOND, SECOND) in out, out
    r = cli_ok(mta, "user", "add", "erin@" + SECOND, "--password-stdin",
               input="erin-Secret-012345\n")
    assert r.stdout == "", r.stdout
    marker = new_marker()
    mx_deliver(mta, ["abuse@" + SECOND], marker)
    mta.mailbox("dave@" + SECOND).wait_for(marker)


def test_init_postmaster_option(tmp_path):
    d = str(tmp_path / "inst")
    r = run_cli(None, "init", "-d", d, "--dev", "--postmaster",
                "Admin@Elsewhere.example")
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "sealmail.conf")
    out = run_cli(conf, "alias", "list").stdout
    for role in ("postmaster", "abuse", "root"):
        # canonical: the domain lower-cased, the local part as given
        assert "%s@example.test Admin@elsewhere.example" % role in out, out
    # without it, init says who will get them
    d2 = str(tmp_path / "inst2")
    r = run_cli(None, "init", "-d", d2, "--dev")
    assert r.returncode == 0, r.stderr
    assert "postmaster@" in r.stdout and "first user" in r.stdout
    # a bad address is refused before anything is written
    d3 = str(tmp_path / "inst3")
    r = run_cli(None, "init", "-d", d3, "--dev", "--postmaster", "nobody")
    assert r.returncode == 1, r
    assert not os.path.exists(os.path.join(d3, "sealmail.conf"))


# ------------------------------------------------------------ item 14

def test_recipient_delimiter(mta):
    marker = new_marker()
    mx_deliver(mta, ["bob+news@example.test"], marker)
    mta.mailbox(BOB).wait_for(marker)
    # an alias works the same way
    marker = new_marker()
    mx_deliver(mta, ["sales+q2@example.test"], marker)
    mta.mailbox(ALICE).wait_for(marker)
    r = rcpt_reply(mta, "nobody+news@example.test")
    assert (r.code, r.enhanced) == (550, "5.1.1"), r


def test_recipient_delimiter_off(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]])
    cfg.server["recipient_delimiter"] = ""
    d = module_daemons.start(cfg)
    assert "recipient_delimiter =\n" in d.cli("check-config").stdout
    r = rcpt_reply(d, "bob+news@example.test")
    assert (r.code, r.enhanced) == (550, "5.1.1"), r


def test_recipient_delimiter_in_check_config(mta):
    assert "recipient_delimiter = +\n" in mta.cli("check-config").stdout


def alice_submit(mta, headers, marker):
    with RawSMTP.to(mta["submissions"]) as c:
        c.ehlo()
        c.login(ALICE, USERS[ALICE])
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % BOB, 250)
        return c.data(make_message(ALICE, BOB, marker, headers=headers))


@pytest.mark.parametrize("headers", [
    ["Sender: bob@example.test"],
    ["Sender: Bob <bob@example.test>"],
    ["Resent-From: bob@example.test", "Resent-Date: Thu, 01 Jan 2026 "
     "00:00:00 +0000"],
    ["Resent-Sender: bob@example.test"],
    ["Sender: alice@example.test", "Sender: bob@example.test"],
])
def test_sender_fields_must_be_owned(mta, headers):
    """On submission Sender: and Resent-From: are refused like From:."""
    marker = new_marker()
    r = alice_submit(mta, headers, marker)
    assert (r.code, r.enhanced) == (550, "5.7.1"), r
    time.sleep(0.5)
    assert mta.mailbox(BOB).with_marker(marker) == []


@pytest.mark.parametrize("headers", [
    ["Sender: alice@example.test"],
    ["Sender: sales@example.test"],
    # an older resent block (further down) is someone else's
    ["Resent-From: alice@example.test", "Resent-From: bob@example.test"],
])
def test_owned_sender_fields_pass(mta, headers):
    marker = new_marker()
    queued_id(alice_submit(mta, headers, marker))
    mta.mailbox(BOB).wait_for(marker)
