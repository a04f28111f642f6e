# SPDX-License-Identifier: ISC
"""A raw SMTP client for tests that need exact control of the bytes on the
wire (pipelining, BDAT, smuggling, STARTTLS injection, limits): it sends
what it is given and parses replies strictly, with a timeout on every read.
"""

import base64
import socket
import ssl
import time

from harness import HOSTNAME, SLOW, client_ctx


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines          # text after "NNN-" / "NNN "

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """The RFC 3463 enhanced code of the first line, or ''."""
        first = self.lines[0].split(" ", 1)[0] if self.lines else ""
        return first if first.count(".") == 2 else ""

    def __repr__(self):
        return "<%d %s>" % (self.code, " / ".join(self.lines))


class Closed(Exception):
    """The server closed the connection."""


class RawSMTP:
    def __init__(self, host, port, timeout=10, source=None, implicit=False,
                 ctx=None, greeting=True):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.timeout = timeout * SLOW
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.tls = False
        if implicit:
            self.sock = (ctx or client_ctx()).wrap_socket(
                self.sock, server_hostname=HOSTNAME)
            self.tls = True
        self.greeting = self.reply() if greeting else None

    @classmethod
    def to(cls, lst, **kw):
        """Connect to a harness Listener (implicit TLS done for you)."""
        return cls(lst.host, lst.port, implicit=lst.tls == "implicit", **kw)

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise Closed("connection closed; unparsed: %r" % self.buf)
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 4096:
                raise AssertionError("reply line too long: %r" % self.buf)
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """Read one (possibly multi-line) reply; strict RFC 5321 §4.2."""
        lines, code = [], None
        while True:
            ln = self.line()
            if len(ln) < 3 or not ln[:3].isdigit() or \
                    (len(ln) > 3 and ln[3] not in " -"):
                raise AssertionError("malformed reply line %r" % ln)
            if code is not None and int(ln[:3]) != code:
                raise AssertionError("code changed inside a reply: %r" % ln)
            code = int(ln[:3])
            lines.append(ln[4:])
            if len(ln) == 3 or ln[3] == " ":
                return Reply(code, lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, line, code, enhanced=None):
        r = self.cmd(line)
        assert r.code == code, "%s -> %r, wanted %d" % (line, r, code)
        if enhanced:
            assert r.enhanced == enhanced, "%s -> %r, wanted %s" % (
                line, r, enhanced)
        return r

    def ehlo(self, name="client.example.test"):
        r = self.expect("EHLO " + name, 250)
        return {ln.split(" ", 1)[0].upper(): ln for ln in r.lines[1:]}

    def starttls(self, ctx=None, server_hostname=HOSTNAME):
        self.expect("STARTTLS", 220)
        assert not self.buf, "data after the 220 to STARTTLS: %r" % self.buf
        self.sock = (ctx or client_ctx()).wrap_socket(
            self.sock, server_hostname=server_hostname)
        self.tls = True

    def auth_plain(self, user, password):
        tok = base64.b64encode(("\0%s\0%s" % (user, password)).encode())
        return self.cmd("AUTH PLAIN " + tok.decode())

    def login(self, user, password):
        r = self.auth_plain(user, password)
        assert r.code == 235, "AUTH PLAIN %s -> %r" % (user, r)

    def data(self, message):
        """DATA with dot-stuffing; message is bytes with CRLF line ends.
        Returns the final reply."""
        self.expect("DATA", 354)
        stuffed = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln
                               for ln in message.split(b"\r\n"))
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        self.send(stuffed + b".\r\n")
        return self.reply()

    def quiet(self, wait=0.5):
        """True if the server sends nothing within `wait` seconds (and the
        connection is still open or closes cleanly). Data is kept."""
        self.sock.settimeout(wait)
        try:
            self._fill()
            return False
        except socket.timeout:
            return True
        except Closed:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    def closed(self, wait=5):
        """Wait up to `wait` seconds for the server to close; True if it
        did (nothing more than what is buffered arrived)."""
        deadline = time.monotonic() + wait * SLOW
        self.sock.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    self._fill()
                except socket.timeout:
                    continue
                except (Closed, ConnectionResetError, BrokenPipeError):
                    return True
                except ssl.SSLError:
                    return True
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def queued_id(reply):
    """The queue id from '250 2.0.0 Ok: queued as ID' (checked format)."""
    assert reply.code == 250, "message not accepted: %r" % reply
    text = reply.lines[-1]
    assert "queued as " in text, "no queue id in %r" % reply
    qid = text.rsplit("queued as ", 1)[1].strip()
    assert len(qid) == 20 and all(c in "0123456789abcdef" for c in qid), \
        "queue id %r is not 20 lowercase hex digits" % qid
    return qid
