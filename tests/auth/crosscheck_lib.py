# SPDX-License-Identifier: ISC
"""Shared helpers of the DKIM and ARC cross-checks (test_dkim_crosscheck.py,
test_arc_crosscheck.py): building a driver from tests/auth/drivers/ with
`cc`, running commands, writing TXT records into a zone file, and DKIM
keys for dkimpy (also test_idn.py)."""
import base64
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


def genkey(d, name, kind, bits=2048):
    """PEM private key file; returns (path, DNS record, dkimpy privkey)."""
    path = os.path.join(d, name + ".pem")
    if kind == "ed25519":
        run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", path])
    else:
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
             "rsa_keygen_bits:%d" % bits, "-out", path])
    pub = run(["openssl", "pkey", "-in", path, "-pubout", "-outform",
               "DER"]).stdout
    if kind == "ed25519":
        der = run(["openssl", "pkey", "-in", path, "-outform",
                   "DER"]).stdout
        # PKCS#8 Ed25519: the 32-octet seed ends the structure; dkimpy
        # takes it base64-encoded, and the raw public key (RFC 8463 §4.2).
        priv = base64.b64encode(der[-32:])
        rec = "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub[-32:]).decode()
    else:
        with open(path, "rb") as f:
            priv = f.read()
        rec = "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()
    return path, rec, priv
