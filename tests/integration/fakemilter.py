# SPDX-License-Identifier: ISC
"""A milter (protocol v6) written for the tests, on a real TCP socket.

What it does at the end of a message depends on the Subject: it received,
so one milter serves every case of a test module: "reject", "plainreject",
"tempfail", "discard", "addheader", "insheader", "chgheader", "chgrcpt",
"chgfrom", "replbody", "quarantine", "slow" (answers after `slow` seconds),
"garbage" (a packet length past the limit), "badpacket" (a header action
without its NUL), "unasked" (an action it did not negotiate). Anything else
is accepted unchanged. It records the macros and commands it saw.
"""
import socket
import struct
import threading
import time

ACTIONS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x40   # no ADDRCPT_PAR


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
        self.commands = []
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
        try:
            while True:
                n = struct.unpack(">I", self._read(c, 4))[0]
                data = self._read(c, n)
                cmd, data = data[:1], data[1:]
                self.commands.append(cmd)
                if cmd == b"O":
                    c.sendall(pkt(b"O", struct.pack(">III", 6, ACTIONS, 0)))
                elif cmd == b"D":
                    parts = data[1:].split(b"\0")
                    for i in range(0, len(parts) - 1, 2):
                        self.macros[parts[i].decode()] = parts[i + 1].decode()
                elif cmd in (b"C", b"H", b"M", b"R", b"N"):
                    c.sendall(pkt(b"c"))
                elif cmd == b"L":
                    name, value = data.split(b"\0")[:2]
                    if name.lower() == b"subject":
                        subject = value.strip()
                    c.sendall(pkt(b"c"))
                elif cmd == b"B":
                    body += data
                    c.sendall(pkt(b"c"))
                elif cmd == b"E":
                    self.bodies.append(body)
                    c.sendall(self._eom(subject.decode(errors="replace")))
                elif cmd in (b"Q", b"A"):
                    return
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
