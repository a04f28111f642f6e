# SPDX-License-Identifier: ISC
"""Interop with a real MTA: Debian's Postfix, as a private instance with
its own configuration directory (postfix -c DIR) on 127.0.0.1:MX_PORT,
receives mail from sealmail A (MX of postfix.test in the test DNS) into
a Maildir, and relays mail into sealmail B (relayhost = [127.0.0.2]:MX_PORT)
over STARTTLS.

Postfix is installed if missing (apt-get install postfix); the test is
skipped with a message when that fails. The system's own Postfix instance
is never started or touched. Mailboxes are Postfix virtual(8) Maildirs
owned by `nobody`, under a 0755 folder in /tmp (virtual(8) writes them
after dropping privileges, so pytest's 0700 folders would not do).
"""

import os
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

import pytest

import remote_env as env
from remote_env import B_NAME, CAROL, submit, wait_attempt

from harness import header_values, make_message, new_marker, wait_until

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

PF_DOMAIN = "postfix.test"
PF_NAME = "mx.postfix.test"
DAVE = "dave@postfix.test"


def ensure_postfix():
    if os.path.exists("/usr/sbin/postfix"):
        return None
    try:
        r = subprocess.run(["apt-get", "install", "-y", "postfix"],
                           env=dict(os.environ,
                                    DEBIAN_FRONTEND="noninteractive"),
                           capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run apt-get install postfix: %s" % e
    if r.returncode != 0 or not os.path.exists("/usr/sbin/postfix"):
        return ("apt-get install postfix failed (no package mirror "
                "reachable?): %s" % (r.stderr.strip().splitlines() or
                                     ["?"])[-1])
    return None


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {name}
mydomain = {domain}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
alias_maps =
alias_database =
# No DNS: the nexthop is an address literal, peers are not looked up.
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
relayhost = [127.0.0.2]:{port}
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtp_tls_security_level = may
smtpd_tls_received_header = yes
smtp_tls_loglevel = 1
"""


def write_master_cf(d, port):
    """Debian's master.cf without chroot (our queue has no chroot jail),
    with smtpd on 127.0.0.1:port instead of smtp/25."""
    out = []
    with open("/etc/postfix/master.cf") as f:
        for line in f:
            fields = line.split()
            if line[:1].isalnum() and len(fields) >= 8:
                if fields[0] == "smtp" and fields[1] == "inet":
                    fields[0] = "127.0.0.1:%d" % port
                fields[4] = "n"
                line = "  ".join(fields) + "\n"
            out.append(line)
    with open(os.path.join(d, "master.cf"), "w") as f:
        f.writelines(out)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    yield from env.world(tmp_path_factory)


@pytest.fixture(scope="module")
def postfix(world):
    why = ensure_postfix()
    if why:
        pytest.skip(why)
    d = tempfile.mkdtemp(prefix="sealmail-postfix-")
    os.chmod(d, 0o755)
    nobody = pwd.getpwnam("nobody")
    os.makedirs(os.path.join(d, "mail"))
    os.chown(os.path.join(d, "mail"), nobody.pw_uid, nobody.pw_gid)
    # postfix start makes the queue's subfolders, not the queue itself.
    os.mkdir(os.path.join(d, "queue"), 0o755)
    os.mkdir(os.path.join(d, "data"), 0o700)
    pfuser = pwd.getpwnam("postfix")
    os.chown(os.path.join(d, "data"), pfuser.pw_uid, pfuser.pw_gid)
    with open(os.path.join(d, "vmailbox"), "w") as f:
        f.write("%s %s/dave/\n" % (DAVE, PF_DOMAIN))
    with open(os.path.join(d, "main.cf"), "w") as f:
        f.write(MAIN_CF.format(d=d, name=PF_NAME, domain=PF_DOMAIN,
                               port=world["mx_port"], uid=nobody.pw_uid,
                               gid=nobody.pw_gid,
                               cert=world["cert_a"].cert,
                               key=world["cert_a"].key))
    write_master_cf(d, world["mx_port"])
    r = subprocess.run(["postfix", "-c", d, "start"], capture_output=True,
                       text=True, timeout=60)
    pidfile = os.path.join(d, "queue", "pid", "master.pid")
    try:
        assert r.returncode == 0, "postfix start: %s%s" % (r.stdout,
                                                           r.stderr)
        wait_until(lambda: smtp_up(world["mx_port"]), 20,
                   what="postfix smtpd on 127.0.0.1:%d" % world["mx_port"])
        yield {"dir": d, "port": world["mx_port"]}
    finally:
        stop_postfix(d, pidfile)
        shutil.rmtree(d, ignore_errors=True)


def smtp_up(port):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=2)
        s.quit()
        return True
    except OSError:
        return False


def stop_postfix(d, pidfile):
    subprocess.run(["postfix", "-c", d, "stop"], capture_output=True,
                   timeout=60)
    try:
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    try:        # the master we started did not stop: end it
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def maillog(pf):
    try:
        with open(os.path.join(pf["dir"], "maillog")) as f:
            return f.read()
    except OSError:
        return ""


def postfix_maildir_with(pf, marker):
    out = []
    for sub in ("new", "cur"):
        folder = os.path.join(pf["dir"], "mail", PF_DOMAIN, "dave", sub)
        for n in (os.listdir(folder) if os.path.isdir(folder) else []):
            with open(os.path.join(folder, n), "rb") as f:
                raw = f.read()
            if marker.encode() in raw:
                out.append(raw)
    return out


def test_sealmail_delivers_to_postfix(world, postfix):
    a = world["a"]
    marker = new_marker()
    qid = submit(a, [DAVE], marker)
    msgs = wait_until(lambda: postfix_maildir_with(postfix, marker), 30,
                      what="message in Postfix's Maildir (maillog:\n%s)" %
                      maillog(postfix)[-2000:])
    rec = header_values(msgs[0], "Received")[0]
    assert "mail.example.test" in rec and "by %s" % PF_NAME in rec, rec
    assert "using TLSv1.3" in rec, rec
    line = wait_attempt(a, qid, DAVE, "delivered")[0]
    assert "relay=%s[127.0.0.1]:%d" % (PF_NAME, postfix["port"]) in line
    assert "tls=TLSv1.3/" in line, line


def test_postfix_delivers_to_sealmail(world, postfix):
    b = world["b"]
    marker = new_marker()
    s = smtplib.SMTP("127.0.0.1", postfix["port"], timeout=20,
                     local_hostname="client.postfix.test")
    try:
        s.sendmail(DAVE, [CAROL], make_message(DAVE, CAROL, marker))
    finally:
        s.quit()
    raw = b.mailbox(CAROL).wait_for(marker, timeout=30)[0]
    rec = header_values(raw, "Received")[0]
    assert rec.startswith("from %s" % PF_NAME), rec
    assert re.search(r"\bwith ESMTPS\b", rec), rec
    assert "by %s" % B_NAME in rec, rec
