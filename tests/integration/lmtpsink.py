# SPDX-License-Identifier: ISC
"""A minimal LMTP server on loopback (RFC 2033) that keeps every message it
accepts, optionally taking `delay` seconds per message: a slow mail store,
so that the queue runner has deliveries in flight when a test wants them.
With `refuse_data` > 0 it answers that many DATA commands with a 451 and,
like many servers, keeps the transaction open until RSET: a MAIL inside it
gets 503. With `stall` (a text) a transaction whose recipient contains it
is taken in full and never answered until close(), which then drops the
connection: a stalled mail store. `raw` keeps each copy's DATA bytes as
sent (stuffed, up to and including the final dot)."""

import socket
import socketserver
import threading
import time


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        sink = self.server.sink
        self.reply("220 lmtpsink ready")
        rcpts = None
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb == b"LHLO":
                self.reply("250-lmtpsink")
                self.reply("250 8BITMIME")
            elif verb == b"MAIL":
                if rcpts is not None and sink.strict:
                    self.reply("503 5.5.1 nested MAIL command")
                    continue
                rcpts = []
                with sink.lock:
                    sink.senders.append(line.strip()[10:].decode(
                        "utf-8", "replace"))
                self.reply("250 2.1.0 ok")
            elif verb == b"RCPT":
                rcpts = (rcpts or []) + [
                    line.strip()[8:].decode("utf-8", "replace")]
                self.reply("250 2.1.5 ok")
            elif verb == b"DATA":
                with sink.lock:
                    refuse = sink.refuse_data > 0
                    sink.refuse_data -= refuse
                if refuse:
                    self.reply("451 4.3.0 try again later")
                    continue
                self.reply("354 go ahead")
                data = []
                raw = b""
                while True:
                    dl = self.rfile.readline(1 << 20)
                    raw += dl
                    if not dl or dl in (b".\r\n", b".\n"):
                        break
                    data.append(dl[1:] if dl.startswith(b"..") else dl)
                if not dl:
                    return
                with sink.lock:
                    sink.raw.append(raw)
                if sink.stall and any(sink.stall in r for r in rcpts or []):
                    with sink.lock:
                        sink.stalled += 1
                    sink.closing.wait(120)
                    return
                time.sleep(sink.delay)
                with sink.lock:
                    for r in rcpts or []:
                        sink.messages.append((r, b"".join(data)))
                for _ in rcpts or []:
                    self.reply("250 2.0.0 stored")
                rcpts = None
            elif verb == b"RSET":
                rcpts = None
                self.reply("250 2.0.0 ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("500 5.5.1 unknown command")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class LmtpSink:
    """Start with LmtpSink(delay); `target` is the [delivery] local value;
    `messages` the (recipient, bytes) pairs stored; close() stops it."""

    def __init__(self, delay=0.0, refuse_data=0, stall=None):
        self.delay = delay
        self.stall = stall
        self.stalled = 0
        self.raw = []
        self.closing = threading.Event()
        self.refuse_data = refuse_data
        self.strict = refuse_data > 0
        self.lock = threading.Lock()
        self.messages = []
        self.senders = []       # MAIL FROM arguments, as sent
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.sink = self
        self.port = self.server.server_address[1]
        self.target = "lmtp:127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        # Wake handlers blocked in sleep or read: they are daemon threads.
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            pass
