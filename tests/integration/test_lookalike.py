# SPDX-License-Identifier: ISC
"""Lookalike-sender warnings (issue 15 item 2) on the real daemon.

* a message From examp1e.org (also by `check-auth`) and one From еxample.org (Cyrillic е, U+0435:
  as its A-label in From: under an RFC 2047 encoded display name, and as
  raw UTF-8 over SMTPUTF8) to a user of example.org arrive with
  Sealmail-Warning: lookalike naming example.org; `inspect` shows it;
* a display name showing another address is warned about;
* a sender domain first flagged today says so (first-seen=today), one
  flagged days ago does not;
* a Sealmail-Warning that comes with a message is removed, and mail from
  an unrelated domain gets none;
* [lookalike] action = tag prefixes Subject:, action = junk delivers into
  Junk; protect = adds a brand.
"""
import base64
import os
import re
import smtplib
import sqlite3

import pytest

import harness

USER = "carol@example.org"
CYR = "\u0435xample.org"                 # еxample.org
CYR_ALABEL = "xn--xample-2of.org"


def start(pool, certs, action):
    cfg = pool.config([certs["ec"]], ipv6=False)
    cfg.domains = [harness.DOMAIN, "example.org"]
    cfg.extra = "\n[lookalike]\nprotect = mybank.example\naction = %s\n" % \
        action
    d = pool.start(cfg)
    r = d.cli("user", "add", USER, "--no-password")
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture(scope="module")
def mx(module_daemons, certs):
    return start(module_daemons, certs, "header")


def send(d, frm_header, subject, mail_from="x@sender.test", extra=b"",
         utf8=False):
    msg = (("From: %s\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n"
            % (frm_header, USER, subject, subject)).encode() + extra +
           b"\r\nbody\r\n")
    lst = d["mx_plain"]
    with smtplib.SMTP(lst.host, lst.port, timeout=30) as s:
        s.ehlo("client.sender.test")
        s.sendmail(mail_from, [USER], msg,
                   mail_options=["SMTPUTF8"] if utf8 else [])


def warnings(raw):
    head = re.sub(rb"\r?\n[ \t]+", b" ", raw.split(b"\n\n", 1)[0]
                  if b"\r\n\r\n" not in raw else raw.split(b"\r\n\r\n")[0])
    return [l.decode() for l in re.split(rb"\r?\n", head)
            if l.lower().startswith(b"sealmail-warning:")]


def test_typo_domain_warned(mx):
    send(mx, "Example Billing <billing@examp1e.org>", "lk-typo")
    raw = mx.mailbox(USER).wait_for("lk-typo")[0]
    assert warnings(raw) == [
        'Sealmail-Warning: lookalike; from="examp1e.org"; '
        'resembles="example.org"; reason=typo; first-seen=today'], raw
    # check-auth makes the same check offline.
    path = mx.cfg.folder + "/lk-typo.eml"
    with open(path, "wb") as f:
        f.write(raw)
    r = mx.cli("check-auth", "--ip", "127.0.0.1", "--helo", "x.test",
               "--mail-from", "x@sender.test", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] + "; first-seen=today" == \
        warnings(raw)[0], r.stdout
    r = mx.cli("check-auth", "--json", "--ip", "127.0.0.1", "--helo",
               "x.test", "--mail-from", "x@sender.test", path)
    assert ('"lookalike": {"from": "examp1e.org", "resembles": '
            '"example.org", "reason": "typo"}') in r.stdout, r.stdout


def test_cyrillic_alabel_in_encoded_from_warned(mx):
    name = "=?UTF-8?B?%s?=" % base64.b64encode(
        "\u0415xample Support".encode()).decode()
    send(mx, "%s <support@%s>" % (name, CYR_ALABEL), "lk-cyr")
    raw = mx.mailbox(USER).wait_for("lk-cyr")[0]
    assert warnings(raw) == [
        'Sealmail-Warning: lookalike; from="%s"; resembles="example.org"; '
        'reason=mixed-script; first-seen=today' % CYR_ALABEL], raw
    # inspect shows the warning and the Unicode form of the sender domain.
    path = mx.cfg.folder + "/lk-cyr.eml"
    with open(path, "wb") as f:
        f.write(raw)
    r = mx.cli("inspect", path)
    assert r.returncode == 0, r.stderr
    assert "Warning: lookalike; from=\"%s\"" % CYR_ALABEL in r.stdout
    assert "(%s is %s)" % (CYR_ALABEL, CYR) in r.stdout


def test_cyrillic_utf8_over_smtputf8_warned(mx):
    send(mx, "<support@%s>" % CYR, "lk-utf8", mail_from="x@%s" % CYR,
         utf8=True)
    raw = mx.mailbox(USER).wait_for("lk-utf8")[0]
    assert warnings(raw) == [
        'Sealmail-Warning: lookalike; from="%s"; resembles="example.org"; '
        'reason=mixed-script; first-seen=today' % CYR_ALABEL], raw
    # The log line names the sender domain in both forms.
    assert ('lookalike from=%s from_unicode="\\xd0\\xb5xample.org"' %
            CYR_ALABEL) in mx.log_text()


def test_display_name_address_and_brand(mx):
    send(mx, '"support@example.org" <x@evil.test>', "lk-disp")
    raw = mx.mailbox(USER).wait_for("lk-disp")[0]
    assert warnings(raw) == [
        'Sealmail-Warning: lookalike; from="evil.test"; '
        'resembles="example.org"; reason=display-name; first-seen=today'],\
        raw
    send(mx, "<alerts@rnybank.example>", "lk-brand")
    raw = mx.mailbox(USER).wait_for("lk-brand")[0]
    assert warnings(raw) == [
        'Sealmail-Warning: lookalike; from="rnybank.example"; '
        'resembles="mybank.example"; reason=typo; first-seen=today'], raw


def test_first_seen_earlier_is_not_today(mx):
    """examp1e.org was flagged by test_typo_domain_warned; made two days
    old in the store, its next message is no longer "first-seen=today"."""
    db = sqlite3.connect(os.path.join(mx.data_dir, "sealmail.db"))
    try:
        with db:
            n = db.execute("UPDATE lookalike_senders SET first_seen = "
                           "first_seen - 2 * 86400 WHERE domain = "
                           "'examp1e.org'").rowcount
    finally:
        db.close()
    assert n == 1
    send(mx, "<billing@examp1e.org>", "lk-again")
    raw = mx.mailbox(USER).wait_for("lk-again")[0]
    assert warnings(raw) == [
        'Sealmail-Warning: lookalike; from="examp1e.org"; '
        'resembles="example.org"; reason=typo'], raw


def test_store_writes_per_hit_are_bounded(mx):
    """Each hit notes its sender domain in the store, a synchronous write
    on the worker's loop (waiting up to the store's busy timeout). A
    sender that makes up a lookalike domain per message (any subdomain of
    examp1e.org) gets at most LOOKALIKE_NOTE_WRITES (10) of them written
    per minute by one worker; each message still carries its warning."""
    n = 15
    lst = mx["mx_plain"]
    with smtplib.SMTP(lst.host, lst.port, timeout=30) as s:
        s.ehlo("client.sender.test")
        for i in range(n):
            msg = ("From: <b@h%d.examp1e.org>\r\nTo: <%s>\r\nSubject: "
                   "lk-burst-%d\r\nMessage-ID: <lk-burst-%d@t>\r\n\r\n"
                   "body\r\n" % (i, USER, i, i)).encode()
            s.sendmail("x@sender.test", [USER], msg)
    for i in range(n):
        raw = mx.mailbox(USER).wait_for("<lk-burst-%d@t>" % i)[0]
        assert warnings(raw) == [
            'Sealmail-Warning: lookalike; from="h%d.examp1e.org"; '
            'resembles="example.org"; reason=typo; first-seen=today' % i
        ], raw
    db = sqlite3.connect(os.path.join(mx.data_dir, "sealmail.db"))
    try:
        rows = db.execute("SELECT count(*) FROM lookalike_senders WHERE "
                          "domain LIKE 'h%.examp1e.org'").fetchone()[0]
    finally:
        db.close()
    assert rows <= 10, rows


def test_forged_warning_removed_and_clean_mail_unmarked(mx):
    forged = (b"Sealmail-Warning: lookalike; from=\"x\"; resembles=\"y\"; "
              b"reason=typo\r\nsealmail-warning: none\r\n")
    send(mx, "Friend <friend@debian.org>", "lk-clean", extra=forged)
    raw = mx.mailbox(USER).wait_for("lk-clean")[0]
    assert warnings(raw) == [], raw
    assert b"resembles=\"y\"" not in raw


def test_action_tag(daemons, certs):
    d = start(daemons, certs, "tag")
    send(d, "<billing@examp1e.org>", "lk-tag")
    raw = d.mailbox(USER).wait_for("lk-tag")[0]
    assert b"\r\nSubject: [Lookalike] lk-tag\r\n" in raw.replace(
        b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"), raw
    assert len(warnings(raw)) == 1
    send(d, "<friend@debian.org>", "lk-notag")
    raw = d.mailbox(USER).wait_for("lk-notag")[0]
    assert b"[Lookalike]" not in raw


def test_action_junk(daemons, certs):
    d = start(daemons, certs, "junk")
    send(d, "<billing@examp1e.org>", "lk-junk")
    raw = d.mailbox(USER, "Junk").wait_for("lk-junk")[0]
    assert len(warnings(raw)) == 1
    assert not d.mailbox(USER).with_marker("lk-junk")
