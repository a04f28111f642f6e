# SPDX-License-Identifier: ISC
"""debian/sealmail.postinst run as dpkg runs it on an upgrade, with
stand-ins for the commands it calls, in a mount namespace whose /run has
a /run/systemd/system (as under systemd) and whose /var/lib is empty: the
unit file the upgrade brought must be loaded (daemon-reload) before the
service is restarted, else systemd restarts it with the old unit."""

import os
import shutil
import subprocess

import pytest

from harness import stub

POSTINST = os.path.join(os.path.dirname(__file__), "..", "..", "debian",
                        "sealmail.postinst")


def run_postinst(tmp_path, *args):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a mount namespace")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    calls = tmp_path / "calls.log"
    for name in ("adduser", "chown", "chmod", "systemctl",
                 "deb-systemd-invoke", "deb-systemd-helper"):
        stub(str(bin_ / name), 'echo "%s $*" >> %s\n' % (name, calls))
    # check-config passes: the configuration is complete.
    stub(str(bin_ / "sealmail"), 'echo "sealmail $*" >> %s\n' % calls)
    script = ("mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && "
              "mount -t tmpfs tmpfs /var/lib && exec sh \"$0\" \"$@\"")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "sh", "-c", script, os.path.abspath(POSTINST)]
                       + list(args),
                       env={"PATH": "%s:/usr/sbin:/usr/bin:/sbin:/bin" % bin_},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def test_upgrade_reloads_the_unit_before_restarting(tmp_path):
    lines = run_postinst(tmp_path, "configure", "0.1.0")
    restart = [i for i, l in enumerate(lines)
               if l.startswith("deb-systemd-invoke restart sealmail.service")]
    assert restart, lines
    reload_ = [i for i, l in enumerate(lines)
               if l == "systemctl --system daemon-reload"]
    assert reload_ and reload_[0] < restart[0], lines
