# SPDX-License-Identifier: ISC
"""SMTP AUTH beyond the basics of test_roles_tls.py: the empty initial
response (RFC 4954 §4), log lines that client text cannot forge fields
into, and password checks that do not hold up the worker's other
sessions."""

import os
import re
import shlex
import time

import pytest

from harness import wait_until
from smtpraw import RawSMTP

ALICE = "alice@example.test"


def test_auth_plain_empty_initial_response(mta):
    """'AUTH PLAIN =' is an initial response of zero length, not a request
    for a 334 challenge; an empty PLAIN message is malformed."""
    with RawSMTP.to(mta["submissions"], source="127.0.0.21") as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN =")
        assert (r.code, r.enhanced) == (501, "5.5.2"), r
        # Back to commands: the next line is a command, not a response.
        c.expect("NOOP", 250, "2.0.0")


def test_auth_login_empty_initial_response(mta):
    with RawSMTP.to(mta["submissions"], source="127.0.0.21") as c:
        c.ehlo()
        r = c.cmd("AUTH LOGIN =")
        assert (r.code, r.enhanced) == (501, "5.5.2"), r
        c.expect("NOOP", 250, "2.0.0")


# ------------------------------------------------------------ log fields

FIELD = re.compile(r'([a-z][a-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def log_fields(line):
    """(key, value) pairs of a log line as sealmail(8) defines them: a
    quoted value ends at the first unescaped quote."""
    out = []
    for k, v in FIELD.findall(line.split(": ", 1)[1]):
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out.append((k, v))
    return out


def fail2ban_regex():
    """The failregex that man/sealmail.8 gives, as Python sees it."""
    man = os.path.join(os.path.dirname(__file__), "..", "..", "man",
                       "sealmail.8")
    with open(man) as f:
        line = next(ln for ln in f if ln.startswith("failregex = "))
    rx = line.split("= ", 1)[1].strip().replace("\\e", "\\")
    return re.compile(rx.replace("<HOST>", r"(?P<host>\S+)"))


def auth_fail_lines(d, sid_user):
    return [ln for ln in d.log_text().splitlines()
            if "smtp auth result=fail" in ln and sid_user in ln]


def test_auth_user_cannot_forge_log_fields(mta):
    """AUTH with a user name that looks like more fields is logged as
    one quoted value: the only addr= is the client's, and the fail2ban
    filter of sealmail(8) bans the client, not the address in the name."""
    forged = 'x addr=10.9.9.9 failures=99 "q\\'
    with RawSMTP.to(mta["submissions"], source="127.0.0.22",
                    timeout=40) as c:
        c.ehlo()
        r = c.auth_plain(forged, "wrong-password")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
    lines = []
    wait_until(lambda: lines.extend(auth_fail_lines(mta, "10.9.9.9")) or
               lines, 5, what="the AUTH failure log line")
    f = log_fields(lines[0])
    assert [v for k, v in f if k == "addr"] == ["127.0.0.22"], lines[0]
    assert [v for k, v in f if k == "user"] == [forged], lines[0]
    assert len([k for k, v in f if k == "failures"]) == 1, lines[0]
    m = fail2ban_regex().match(lines[0])
    assert m and m.group("host") == "127.0.0.22", (lines[0], m)


def test_helo_and_mail_from_are_quoted(mta):
    with RawSMTP.to(mta["mx_plain"]) as c:
        c.expect('EHLO x.example addr=10.8.8.8', 250)
        c.expect('MAIL FROM:<"a b addr=10.8.8.9"@client.example>', 250)
        c.expect("QUIT", 221)
    text = mta.log_text()
    ehlo = [ln for ln in text.splitlines() if "10.8.8.8" in ln]
    mail = [ln for ln in text.splitlines() if "10.8.8.9" in ln]
    assert ehlo and mail, text[-2000:]
    assert dict(log_fields(ehlo[0]))["name"] == "x.example addr=10.8.8.8"
    assert "addr" not in dict(log_fields(ehlo[0])), ehlo[0]
    assert dict(log_fields(mail[0]))["from"] == \
        '"a b addr=10.8.8.9"@client.example', mail[0]
    assert "addr" not in dict(log_fields(mail[0])), mail[0]
