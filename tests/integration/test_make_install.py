# SPDX-License-Identifier: ISC
"""`make install PREFIX=DIR` by a user who is not root, of the binary this
suite tests: everything lands under DIR (the certbot hook included, in
DIR/etc, since that user cannot write /etc) and the links lead to the
binary."""

import os
import shutil
import subprocess
import tempfile

import pytest

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_install_under_prefix_without_root():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to run make as nobody (setpriv)")
    binary = os.path.abspath(os.environ.get(
        "SEALMAIL_BIN", os.path.join(TREE, "build", "sealmail")))
    build = os.path.dirname(binary)
    top = tempfile.mkdtemp(prefix="sealmail-install-")
    try:
        os.chmod(top, 0o777)
        # nobody may not even enter the tree (a clone in /root): it
        # installs from a copy of what make needs, timestamps kept so
        # that the build counts as up to date (nobody cannot compile).
        tree = os.path.join(top, "tree")
        os.mkdir(tree)
        for rel in ("Makefile", "src", "man", "dist", "scripts"):
            subprocess.run(["cp", "-a", os.path.join(TREE, rel), tree],
                           check=True)
        os.makedirs(os.path.join(tree, "build"))
        for rel in ("obj", "libsealmail.a", "sealmail"):
            subprocess.run(["cp", "-a", os.path.join(build, rel),
                            os.path.join(tree, "build")], check=True)
        subprocess.run(["chmod", "-R", "a+rX", tree], check=True)
        make = ["make", "-C", tree, "BUILD=build"]
        q = subprocess.run(NOBODY + make + ["-q", "all"],
                           capture_output=True, text=True)
        assert q.returncode == 0, "the copied build is not up to date: " + \
            q.stdout + q.stderr
        prefix = os.path.join(top, "opt")
        r = subprocess.run(NOBODY + make + ["install", "PREFIX=" + prefix],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        for rel in ("sbin/sealmail", "sbin/sendmail", "bin/mailq",
                    "bin/newaliases", "share/man/man8/sealmail.8",
                    "share/man/man5/sealmail.conf.5",
                    "lib/systemd/system/sealmail.service",
                    "etc/letsencrypt/renewal-hooks/deploy/sealmail"):
            assert os.path.exists(os.path.join(prefix, rel)), rel
        for link in ("sbin/sendmail", "bin/mailq", "bin/newaliases"):
            assert os.path.realpath(os.path.join(prefix, link)) == \
                os.path.join(prefix, "sbin", "sealmail"), link
        with open(os.path.join(prefix, "lib", "systemd", "system",
                               "sealmail.service")) as f:
            assert "ExecStart=%s/sbin/sealmail " % prefix in f.read()
    finally:
        shutil.rmtree(top)
