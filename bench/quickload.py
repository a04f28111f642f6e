#!/usr/bin/python3
"""Quick load script (the real benchmark is bench/smtpload, a later issue).

Sends N messages over implicit TLS with AUTH PLAIN from C concurrent
clients, M messages per session, and prints accepted messages per second.

  bench/quickload.py --port 4650 --user you@example.test --password secret \
      --concurrency 8 --messages 400 --per-session 10
"""
import argparse
import smtplib
import ssl
import threading
import time


def worker(args, count, errors, lock):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    body = ("From: %s\r\nTo: %s\r\nSubject: load\r\n\r\n" %
            (args.user, args.user)) + ("x" * 76 + "\r\n") * (args.size // 78)
    sent = 0
    while True:
        with lock:
            if count[0] <= 0:
                return
            n = min(args.per_session, count[0])
            count[0] -= n
        try:
            with smtplib.SMTP_SSL(args.host, args.port, context=ctx,
                                  timeout=30) as s:
                s.login(args.user, args.password)
                for _ in range(n):
                    s.sendmail(args.user, [args.user], body)
                    sent += 1
        except Exception as e:  # counted, reported at the end
            with lock:
                errors.append(repr(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4650)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--per-session", type=int, default=10)
    ap.add_argument("--size", type=int, default=2048)
    args = ap.parse_args()
    count, errors, lock = [args.messages], [], threading.Lock()
    threads = [threading.Thread(target=worker, args=(args, count, errors, lock))
               for _ in range(args.concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    ok = args.messages - len(errors) * args.per_session
    print("messages=%d concurrency=%d per_session=%d size=%d seconds=%.2f "
          "msgs_per_s=%.1f errors=%d" % (args.messages, args.concurrency,
          args.per_session, args.size, dt, ok / dt, len(errors)))
    for e in errors[:5]:
        print("error:", e)


if __name__ == "__main__":
    main()
