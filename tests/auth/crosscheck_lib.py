# SPDX-License-Identifier: ISC
"""Shared helpers of the DKIM and ARC cross-checks (test_dkim_crosscheck.py,
test_arc_crosscheck.py): building a driver from tests/auth/drivers/ with
`cc`, running commands, and writing TXT records into a zone file."""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CFLAGS = ["-std=c17", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
          "-Isrc", "-O1", "-g"]
if os.environ.get("SEALMAIL_SANITIZE") == "1":   # as make check-sanitize
    CFLAGS += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
               "-fno-sanitize-recover=undefined"]
LIBS = ["libevent", "libevent_openssl", "openssl", "libunbound", "libidn2"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def build_driver(sources, out):
    """Compile sources (paths from the repository root) into out."""
    libs = run(["pkg-config", "--libs"] + LIBS).stdout.decode().split()
    run(["cc"] + CFLAGS + sources + ["-o", out] + libs, cwd=ROOT)


def txt(rec):
    """rec as TXT record data: quoted strings of at most 255 bytes."""
    return " ".join('"%s"' % rec[i:i + 255] for i in range(0, len(rec), 255))
