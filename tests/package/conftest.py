# SPDX-License-Identifier: ISC
"""The Debian root the package tests share: debootstrapped once under
build/pkgtest/base (reused while it exists), copied afresh for each run,
with /proc and /dev mounted only while the tests run, and the .deb
($SEALMAIL_DEB) installed with apt-get as an administrator would."""

import os
import shutil
import subprocess
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(TOP, "build", "pkgtest")
BASE = os.path.join(WORK, "base")
ROOT = os.path.join(WORK, "root")
SUITE = "bookworm"


def run(cmd, timeout=600, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (
            " ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def in_root(*cmd, timeout=600, check=True, **kw):
    """A command inside the root (as root unless userspec= is given)."""
    user = kw.pop("userspec", None)
    pre = ["chroot"] + (["--userspec=" + user] if user else []) + [ROOT]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
    env.update(kw.pop("env", {}))
    return run(pre + list(cmd), timeout=timeout, check=check, env=env, **kw)


def mirror():
    """The first URIs: of the host's Debian sources (the mirror we may
    reach), else deb.debian.org."""
    try:
        for line in open("/etc/apt/sources.list.d/debian.sources"):
            if line.startswith("URIs:"):
                return line.split()[1]
    except OSError:
        pass
    return "http://deb.debian.org/debian"


def debootstrap():
    """A minbase Debian 12 plus systemd (what a server has: the unit's
    targets for systemd-analyze, deb-systemd-helper for the postinst)."""
    if os.path.exists(os.path.join(BASE, ".complete")):
        return
    shutil.rmtree(BASE, ignore_errors=True)
    os.makedirs(WORK, exist_ok=True)
    run(["debootstrap", "--variant=minbase", "--include=systemd", SUITE,
         BASE, mirror()], timeout=1200)
    open(os.path.join(BASE, ".complete"), "w").close()


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(l.split()[1] == path for l in f)


def umount_all():
    for sub in ("proc", "dev"):
        p = os.path.join(ROOT, sub)
        if mounted(p):
            subprocess.run(["umount", "-l", p], timeout=30)


@pytest.fixture(scope="session")
def deb():
    path = os.environ.get("SEALMAIL_DEB")
    assert path and os.path.exists(path), "set SEALMAIL_DEB to the .deb"
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def root(deb):
    """The root with the package installed; yields apt-get's output."""
    debootstrap()
    umount_all()
    shutil.rmtree(ROOT, ignore_errors=True)
    run(["cp", "-a", BASE, ROOT])
    try:
        run(["mount", "-t", "proc", "proc", os.path.join(ROOT, "proc")])
        run(["mount", "--bind", "/dev", os.path.join(ROOT, "dev")])
        # The host's sources (same mirror, with security updates) and DNS.
        os.remove(os.path.join(ROOT, "etc/apt/sources.list"))
        shutil.copy("/etc/apt/sources.list.d/debian.sources",
                    os.path.join(ROOT, "etc/apt/sources.list.d/"))
        shutil.copy("/etc/resolv.conf", os.path.join(ROOT, "etc/"))
        shutil.copy(deb, os.path.join(ROOT, "tmp"))
        in_root("apt-get", "update", "-q")
        t0 = time.monotonic()
        r = in_root("apt-get", "install", "-y", "-q",
                    "/tmp/" + os.path.basename(deb))
        print("\napt-get install took %.1f s" % (time.monotonic() - t0))
        yield r.stdout + r.stderr
    finally:
        kill_root_processes()
        umount_all()


def root_pids(exe_only=None):
    """Processes whose root or executable is in the test root (or only
    those running the root's exe_only)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % p)
            rt = os.readlink("/proc/%s/root" % p)
        except OSError:
            continue
        if exe_only is not None:
            if exe == ROOT + exe_only:
                pids.append(int(p))
        elif exe.startswith(ROOT + "/") or rt == ROOT:
            pids.append(int(p))
    return pids


def kill_root_processes():
    for sig in (15, 9):
        for pid in root_pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while root_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
