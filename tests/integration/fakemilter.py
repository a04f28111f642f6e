# SPDX-License-Identifier: ISC
"""A milter (protocol v6) written for the tests, on a real TCP socket.

What it does at the end of a message depends on the Subject: it received,
so one milter serves every case of a test module: "reject", "plainreject",
"tempfail", "discard", "addheader", "insheader", "chgheader", "chgrcpt",
"chgfrom", "chgfromargs" (with RET and ENVID), "chgfrombad" (with a
parameter we do not know), "multiline" (a two-line reply), "replbody", "quarantine", "slow" (answers after `slow` seconds),
"garbage" (a packet length past the limit), "badpacket" (a header action
without its NUL), "unasked" (an action it did not negotiate). Anything else
is accepted unchanged. It records the macros and commands it saw (and
each connection's, in `sessions`, with the time of each command in
`events`).

It speaks to one SMTP session per connection, stage by stage: ABORT
resets its message, QUIT ends the connection. `rules` maps a command byte
(b"C", b"H", b"M", b"R", b"T", b"L", b"N", b"B", b"U", b"E") to a function
of the packet's data that returns the packet to answer instead (None:
the usual answer); `protocol` is the SMFIP_* flags it negotiates (with
SMFIP_NR_* ones it does not answer those steps).
"""
import socket
import struct
import threading
import time

ACTIONS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40   # no ADDRCPT_PAR
# The step each SMFIP_NR_* flag leaves unanswered.
NOREPLY = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
           b"T": 0x10000, b"U": 0x20000, b"N": 0x40000, b"B": 0x80000,
           b"L": 0x80}


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


class FakeMilter:
    def __init__(self, slow=4.0, path=None):
        """On 127.0.0.1 (a free port), or on the unix socket path."""
        self.path = path
        if path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
        self.sock.listen(16)
        self.slow = slow
        self.macros = {}
        self.macro_packets = []
        self.commands = []
        self.sessions = []
        self.events = []
        self.rules = {}
        self.protocol = 0
        self.actions = ACTIONS
        self.optneg_extra = b""       # after the three words (symlists)
        self.bodies = []
        self.conns = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self):
        if self.path is not None:
            return "unix:" + self.path
        return "inet:127.0.0.1:%d" % self.port

    def stop(self):
        self.stopping = True
        try:
            if self.path is None:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
            else:
                with socket.socket(socket.AF_UNIX) as c:
                    c.connect(self.path)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.stopping:
                c.close()
                return
            self.conns += 1
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    @staticmethod
    def _read(c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _conn(self, c):
        c.settimeout(30)
        subject = b""
        body = b""
        mine = []
        self.sessions.append(mine)
        protocol = self.protocol
        try:
            while True:
                n = struct.unpack(">I", self._read(c, 4))[0]
                data = self._read(c, n)
                cmd, data = data[:1], data[1:]
                self.commands.append(cmd)
                mine.append(cmd)
                self.events.append((time.time(), cmd, data))
                if cmd == b"O":
                    c.sendall(pkt(b"O", struct.pack(">III", 6, self.actions,
                                                    protocol) +
                                  self.optneg_extra))
                    continue
                if cmd == b"D":
                    self.macro_packets.append(data)
                    parts = data[1:].split(b"\0")
                    for i in range(0, len(parts) - 1, 2):
                        self.macros[parts[i].decode()] = parts[i + 1].decode()
                    continue
                if cmd == b"A":
                    subject = b""
                    body = b""
                    continue
                if cmd == b"Q":
                    return
                if cmd == b"L":
                    name, value = data.split(b"\0")[:2]
                    if name.lower() == b"subject":
                        subject = value.strip()
                if cmd == b"B":
                    body += data
                if cmd == b"E":
                    self.bodies.append(body)
                    reply = self._eom(subject.decode(errors="replace"))
                    subject = b""
                    body = b""
                else:
                    reply = pkt(b"c")
                rule = self.rules.get(cmd)
                if rule is not None:
                    r = rule(data)
                    if r is not None:
                        reply = r
                if protocol & NOREPLY.get(cmd, 0):
                    continue
                c.sendall(reply)
        except (EOFError, OSError):
            pass
        finally:
            c.close()

    def _eom(self, subject):
        kind = subject.split()[0] if subject else ""
        if kind == "reject":
            return pkt(b"y", b"554 5.7.1 Rejected by the fake milter\0")
        if kind == "plainreject":
            return pkt(b"r")
        if kind == "tempfail":
            return pkt(b"t")
        if kind == "discard":
            return pkt(b"d")
        if kind == "addheader":
            return pkt(b"h", b"X-Fake-Milter\0seen qid=%s\0" %
                       self.macros.get("i", "").encode()) + pkt(b"c")
        if kind == "insheader":
            return pkt(b"i", b"\0\0\0\0X-First\0top\0") + pkt(b"a")
        if kind == "chgheader":
            return pkt(b"m", b"\0\0\0\x01Subject\0changed by milter\0") + \
                pkt(b"m", b"\0\0\0\x01X-Drop\0\0") + pkt(b"c")
        if kind == "chgrcpt":
            return pkt(b"-", b"<alice@example.test>\0") + \
                pkt(b"+", b"<bob@example.test>\0") + pkt(b"c")
        if kind == "chgfrom":
            return pkt(b"e", b"<new-sender@example.net>\0") + pkt(b"c")
        if kind == "chgfromargs":
            return pkt(b"e", b"<new-sender@example.net>\0RET=HDRS "
                       b"ENVID=milter-envid\0") + pkt(b"c")
        if kind == "chgfrombad":
            return pkt(b"e", b"<new-sender@example.net>\0XFOO=1\0") + \
                pkt(b"c")
        if kind == "multiline":
            return pkt(b"y", b"550-5.7.1 first line\r\n550 5.7.1 second "
                       b"line\0")
        if kind == "replbody":
            return pkt(b"p") + pkt(b"b", b"replaced body line 1\r\n") + \
                pkt(b"b", b"replaced body line 2\r\n") + pkt(b"c")
        if kind == "quarantine":
            return pkt(b"q", b"looks bad\0") + pkt(b"a")
        if kind == "slow":
            time.sleep(self.slow)
            return pkt(b"c")
        if kind == "garbage":
            return b"\x7f\xff\xff\xffhello"
        if kind == "badpacket":
            return pkt(b"h", b"X-A\0no terminator")
        if kind == "unasked":
            return pkt(b"2", b"<bob@example.test>\0\0") + pkt(b"c")
        return pkt(b"c")
