# SPDX-License-Identifier: ISC
"""A loopback DNS forwarder stand-in that answers every query at once with
NXDOMAIN, or SERVFAIL under defer.test (UDP and TCP on the same port).

The daemon runs SPF/DKIM/DMARC lookups on inbound mail; with no server at
all behind its resolver each lookup waits for a timeout (seconds per
message). This one makes every name not exist, so the checks finish
immediately with "none". Tests that need real records will bring a real
authoritative server (see shared notes/dns-testing.md).
"""

import socket
import struct
import threading

SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4

# Names at or under this domain get SERVFAIL instead: mail to them is
# deferred (a temporary failure) and stays in the queue.
DEFER_DOMAIN = "defer.test"


def qname(question):
    labels, i = [], 0
    while question[i] != 0:
        n = question[i]
        labels.append(question[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += n + 1
    return ".".join(labels).lower()


def answer(query):
    """The reply to one DNS message, or None if it is not a query."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:
        return None                 # a response, not a query
    opcode = (flags >> 11) & 0xF
    question, rcode = b"", NOTIMP
    if opcode == 0 and qdcount == 1:
        i = 12
        while i < len(query) and query[i] != 0:
            if query[i] & 0xC0:
                break               # no compression in a question
            i += query[i] + 1
        if i < len(query) and query[i] == 0 and i + 5 <= len(query):
            question, rcode = query[12:i + 5], NXDOMAIN
            name = qname(question)
            if name == DEFER_DOMAIN or name.endswith("." + DEFER_DOMAIN):
                rcode = SERVFAIL
    rflags = 0x8000 | (opcode << 11) | (flags & 0x0100) | 0x0080 | rcode
    return struct.pack("!HHHHHH", qid, rflags, 1 if question else 0,
                       0, 0, 0) + question


class NxDns:
    # The reply to a query (bytes or None): a subclass may answer some
    # names itself.
    answer = staticmethod(answer)

    def __init__(self, host="127.0.0.1"):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((host, self.port))
        self.tcp.listen(16)
        self.resolver = "%s@%d" % (host, self.port)
        self.queries = 0
        self.stopping = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def _serve_udp(self):
        while True:
            try:
                q, peer = self.udp.recvfrom(4096)
            except OSError:
                return
            if self.stopping:
                return
            r = self.answer(q)
            self.queries += 1
            if r:
                try:
                    self.udp.sendto(r, peer)
                except OSError:
                    pass

    def _serve_tcp(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            conn.settimeout(5)
            try:
                while True:
                    head = conn.recv(2)
                    if len(head) < 2:
                        break
                    (n,) = struct.unpack("!H", head)
                    q = b""
                    while len(q) < n:
                        chunk = conn.recv(n - len(q))
                        if not chunk:
                            break
                        q += chunk
                    r = self.answer(q)
                    self.queries += 1
                    if not r:
                        break
                    conn.sendall(struct.pack("!H", len(r)) + r)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.stopping = True
        # wake the UDP thread with one last datagram; accept() wakes up
        # when its socket is shut down
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as w:
            w.sendto(b"stop", self.udp.getsockname())
        try:
            self.tcp.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for t in self.threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()
