# SPDX-License-Identifier: ISC
"""One reply per command (RFC 5321 §4.2, RFC 2920): random command
sequences over the whole verb table, seeded and reproducible, sent one by
one and pipelined. Each reply is checked against what its command may be
answered (so a reply that belongs to another command is caught where it
appears), and the session must end with QUIT's 221 as the reply right
after the last command's: one reply too many or too few fails.
"""

import random
import socket

import pytest

from smtpraw import Closed, RawSMTP

SEEDS = range(40)
COMMANDS_PER_SESSION = 40

LONG_NAME = "h" * 300 + ".example.test"

MSG = b"Subject: replies\r\n\r\nbody\r\n.\r\n"


def ok(*codes):
    return lambda r: r.code in codes


def single(code, prefix):
    """A one-line reply whose text starts with prefix (tells NOOP's 250
    from EHLO's or MAIL's)."""
    return lambda r: (r.code == code and len(r.lines) == 1 and
                      r.lines[0].startswith(prefix))


def ehlo_reply(r):
    return (r.code == 250 and len(r.lines) > 3) or \
        (r.code == 501 and len(r.lines) == 1)


def helo_reply(r):
    return (r.code == 250 and len(r.lines) == 1 and
            "." in r.lines[0] and "Ok" not in r.lines[0]) or \
        (r.code == 501 and len(r.lines) == 1)


def help_reply(r):
    return r.code == 214 and len(r.lines) == 3


# (weight, command bytes, check, ends a pipelined group). The checks accept
# every answer the command can get in any state, and nothing else.
MAIL_CODES = (250, 501, 503, 530, 550, 552, 553, 555)
RCPT_CODES = (250, 452, 501, 503, 550, 553, 555)
VERBS = [
    (6, b"EHLO client.example.test", ehlo_reply, False),
    (3, ("EHLO " + LONG_NAME).encode(), ehlo_reply, False),
    (3, b"HELO client.example.test", helo_reply, False),
    (2, ("HELO " + LONG_NAME).encode(), helo_reply, False),
    (1, b"EHLO", ehlo_reply, False),
    (5, b"MAIL FROM:<sender@client.example>", ok(*MAIL_CODES), False),
    (2, b"MAIL FROM:<>", ok(*MAIL_CODES), False),
    (1, b"MAIL FROM:<a@b.example> SIZE=999999999", ok(*MAIL_CODES), False),
    (1, b"MAIL FROM:<a@b.example> NOSUCH=1", ok(*MAIL_CODES), False),
    (1, b"MAIL FROM:bad", ok(*MAIL_CODES), False),
    (6, b"RCPT TO:<alice@example.test>", ok(*RCPT_CODES), False),
    (2, b"RCPT TO:<nobody@example.test>", ok(*RCPT_CODES), False),
    (1, b"RCPT TO:<x@elsewhere.example>", ok(*RCPT_CODES), False),
    (1, b"RCPT TO:<>", ok(*RCPT_CODES), False),
    (4, b"DATA", ok(354, 503, 554, 451), True),
    (1, b"DATA x", ok(501), False),
    (3, b"BDAT 6 LAST\r\nabcd", ok(250, 503, 554, 550, 552, 451), True),
    (2, b"BDAT 5\r\nxyz", ok(250, 503, 554, 550, 552, 451), True),
    (3, b"RSET", single(250, "2.0.0 Ok"), False),
    (1, b"RSET now", ok(501), False),
    (3, b"NOOP", single(250, "2.0.0 Ok"), False),
    (2, b"VRFY alice", ok(252), False),
    (1, b"VRFY", ok(501), False),
    (1, b"EXPN list", ok(502), False),
    (2, b"HELP", help_reply, False),
    (2, b"STARTTLS", ok(220, 501, 502, 503), True),
    (1, b"STARTTLS now", ok(501, 503), False),
    (2, b"AUTH PLAIN", ok(334, 538, 503), True),
    (1, b"AUTH", ok(501, 538, 503), False),
    (2, b"FOO bar", ok(500), False),
    (1, b"", ok(500), False),
    (1, b"NOOP\x00x", ok(500), False),
    (1, b"EHLO \xc3\xa9.example", ok(500), False),
    (1, b"NOOP " + b"x" * 600, ok(500), False),
    (1, b"mail from:<lower@client.example>", ok(*MAIL_CODES), False),
]


def pick(rnd):
    total = sum(v[0] for v in VERBS)
    n = rnd.uniform(0, total)
    for v in VERBS:
        n -= v[0]
        if n <= 0:
            return v
    return VERBS[-1]


class Session:
    def __init__(self, lst, seed, pipelined):
        self.c = RawSMTP.to(lst)
        self.seed = seed
        self.pipelined = pipelined
        self.log = []       # (command, reply) for the failure message

    def fail(self, why):
        hist = "\n".join("  %r -> %r" % e for e in self.log[-12:])
        pytest.fail("seed %d %s: %s\n%s" % (
            self.seed, "pipelined" if self.pipelined else "one by one",
            why, hist))

    def check(self, cmd, chk):
        try:
            r = self.c.reply()
        except (Closed, socket.timeout) as e:
            self.fail("no reply to %r: %s" % (cmd, e))
        self.log.append((cmd, r))
        if not chk(r):
            self.fail("reply %r does not answer %r" % (r, cmd))
        return r

    def after(self, cmd, r):
        """Follow-up a reply asks for: message text after 354, a TLS
        handshake after 220 to STARTTLS."""
        if cmd == b"DATA" and r.code == 354:
            self.c.send(MSG)
            self.check(b"<message>", ok(250, 451, 550, 552, 554))
        elif cmd == b"AUTH PLAIN" and r.code == 334:
            self.c.send(b"*\r\n")
            self.check(b"*", ok(501))
        elif cmd == b"STARTTLS" and r.code == 220:
            self.c.starttls_handshake()

    def run(self, rnd, n):
        group = []
        for _ in range(n):
            v = pick(rnd)
            group.append(v)
            if not self.pipelined or v[3] or len(group) >= 8:
                self.flush(group)
                group = []
        self.flush(group)
        self.c.send(b"QUIT\r\n")
        self.check(b"QUIT", single(221, "2.0.0 Bye"))
        if not self.c.closed():
            self.fail("connection still open after QUIT")
        if self.c.buf:
            self.fail("bytes after the 221: %r" % self.c.buf)

    def flush(self, group):
        if not group:
            return
        self.c.send(b"".join(v[1] + b"\r\n" for v in group))
        for v in group:
            r = self.check(v[1], v[2])
            self.after(v[1], r)


def _starttls_handshake(self):
    from harness import client_ctx, HOSTNAME
    assert not self.buf, "data after the 220 to STARTTLS: %r" % self.buf
    self.sock = client_ctx().wrap_socket(self.sock,
                                         server_hostname=HOSTNAME)
    self.tls = True


RawSMTP.starttls_handshake = _starttls_handshake


@pytest.fixture(scope="module")
def lenient(module_daemons, certs):
    """Errors are part of the sequences: max_errors high enough that the
    too-many-errors close never ends a session early."""
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.server["max_errors"] = "1000"
    cfg.server["max_recipients"] = "5"
    return module_daemons.start(cfg)


@pytest.mark.parametrize("pipelined", [False, True],
                         ids=["one-by-one", "pipelined"])
@pytest.mark.parametrize("listener", ["mx_plain", "mx", "submission"])
def test_one_reply_per_command(lenient, listener, pipelined):
    for seed in SEEDS:
        rnd = random.Random("%s-%s-%d" % (listener, pipelined, seed))
        s = Session(lenient[listener], seed, pipelined)
        try:
            s.run(rnd, COMMANDS_PER_SESSION)
        finally:
            s.c.close()


def test_refused_ehlo_after_good_ehlo(lenient):
    """The defect of issue 10 item 3: a 501 to an overlong EHLO came
    with the earlier EHLO's 250 block, and every later reply was one off."""
    with RawSMTP.to(lenient["mx_plain"]) as c:
        c.ehlo()
        c.expect("EHLO " + LONG_NAME, 501)
        c.expect("NOOP", 250, "2.0.0")
        assert c.quiet(0.5) and not c.buf, "extra reply: %r" % c.buf
