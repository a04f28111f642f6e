# SPDX-License-Identifier: ISC
"""One sealmail node on a PostgreSQL store for the store tests: its
config (one worker, the given DNS stand-in), its accounts put in the new
database by the CLI, and the daemon served for a module's fixture."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
from harness import Config, Daemon, make_cert, run_cli  # noqa: E402


def config(folder, dns):
    """A Config in folder: one worker, dns (an nxdns.NxDns) as resolver,
    an EC certificate. The caller adds listeners and [store]."""
    c = Config(folder, [make_cert(folder, "ec")])
    c.server["workers"] = "1"
    c.dns["resolver"] = dns.resolver
    return c


def provision(c, users=(), aliases=()):
    """Write c, migrate its store, add users ((address, password or
    None for none)) and aliases ((address, target))."""
    path = c.write()
    cmds = [(("store", "migrate"), None)]
    cmds += [(("user", "add", u, "--password-stdin"), pw + "\n")
             if pw is not None else (("user", "add", u, "--no-password"),
                                     None) for u, pw in users]
    cmds += [(("alias", "add", a, t), None) for a, t in aliases]
    for args, stdin in cmds:
        r = run_cli(path, *args, input=stdin)
        assert r.returncode == 0, r.stdout + r.stderr


def serve(c, dns):
    """For a fixture (yield from): the daemon of c started, yielded,
    stopped; dns closed after, whatever happened."""
    d = None
    try:
        d = Daemon(c).start(timeout=30)
        yield d
    finally:
        if d is not None:
            d.stop()
        dns.close()
