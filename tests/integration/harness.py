# SPDX-License-Identifier: ISC
"""The sealmail integration harness: configuration writer, daemon lifecycle,
certificates, CLI runner, Maildir and spool readers.

Everything here talks to the real binary named by $SEALMAIL_BIN over
loopback. The suite is meant to run inside a network namespace that has only
loopback (see tests/README), so every address is 127.0.0.1 or ::1.
"""

import atexit
import hashlib
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import uuid

HOSTNAME = "mail.example.test"
DOMAIN = "example.test"

# Accounts every standard data folder gets (see provision()).
USERS = {
    "alice@example.test": "alice-Secret-0123",
    "bob@example.test": "bob-Secret-4567",
}
ALIASES = [("sales@example.test", "alice@example.test")]

# [dns] resolver of every config: conftest points it at an nxdns.NxDns
# (every name NXDOMAIN, at once); 127.0.0.1@1 answers nothing at all.
DNS_RESOLVER = "127.0.0.1@1"

# A sanitizer build (make check-sanitize) is several times slower.
SANITIZE = os.environ.get("SEALMAIL_SANITIZE", "") == "1"
SLOW = 3.0 if SANITIZE else 1.0

# Log text that means the daemon hit undefined behaviour or a memory error.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer")


class HarnessError(AssertionError):
    """A daemon failed to start, stop or behave as a process should."""


def sealmail_bin():
    """The binary under test: $SEALMAIL_BIN, else build/sealmail."""
    p = os.environ.get("SEALMAIL_BIN")
    if not p:
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        p = os.path.join(root, "build", "sealmail")
    return p


def reachable_dir(prefix="sealmail-"):
    """A new folder that every user can enter and read (0755, under /tmp,
    whose parents are open to all), removed when the run ends. The tree
    itself may sit in a private folder (a clone in /root is 0700), so
    whatever a test hands to another user goes here."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    return d


def service_user(prefix):
    """A new system user (prefix + random hex, no home, no login) for a
    daemon's [server] user, as a generator for a fixture: yields its pwd
    entry and removes it afterwards. Needs root."""
    import pwd
    name = prefix + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


_bin_for_others = None


def sealmail_bin_for_others():
    """A copy of the binary under test that any user may execute (see
    reachable_dir), made once per run: tests that run it as another user
    call this instead of sealmail_bin()."""
    global _bin_for_others
    if _bin_for_others is None or not os.path.exists(_bin_for_others):
        p = os.path.join(reachable_dir("sealmail-bin-"), "sealmail")
        shutil.copyfile(sealmail_bin(), p)
        os.chmod(p, 0o755)
        _bin_for_others = p
    return _bin_for_others


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind to port 0, read, close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- certificates

class Cert:
    def __init__(self, cert, key, kind):
        self.cert = cert
        self.key = key
        self.kind = kind
        with open(cert) as f:
            self.pem = f.read()
        self.fingerprint = hashlib.sha256(
            ssl.PEM_cert_to_DER_cert(self.pem)).hexdigest()


def make_cert(folder, name, kind="ec", cn=HOSTNAME, ips=()):
    """A self-signed certificate for mail.example.test, localhost, 127.0.0.1
    and ::1 (and the extra addresses ips). kind is "ec" (ECDSA P-256) or
    "rsa" (RSA 2048)."""
    os.makedirs(folder, exist_ok=True)
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + ".key")
    if kind == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        newkey = ["-newkey", "rsa:2048"]
    subprocess.run(
        ["openssl", "req", "-x509"] + newkey +
        ["-nodes", "-days", "30", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1,"
         "IP:::1" % cn + "".join(",IP:" + ip for ip in ips),
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    return Cert(cert, key, kind)


def make_dated_cert(folder, name, not_before, not_after, dns=(HOSTNAME,)):
    """A self-signed ECDSA certificate valid from not_before to not_after
    (datetimes; either may lie in the past) for the DNS names dns, which
    openssl req cannot make (it starts every certificate now)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    os.makedirs(folder, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in dns]), critical=False)
            .sign(key, hashes.SHA256()))
    return write_cert(folder, name, cert, key)


def write_cert(folder, name, cert, key):
    """A python3-cryptography certificate and EC key as folder/NAME.pem
    and folder/NAME.key (mode 0600); the Cert for them."""
    from cryptography.hazmat.primitives import serialization

    os.makedirs(folder, exist_ok=True)
    cpath = os.path.join(folder, name + ".pem")
    kpath = os.path.join(folder, name + ".key")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(kpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return Cert(cpath, kpath, "ec")


def copy_cert(c, folder, name):
    """Copy a certificate pair (the reload test rewrites its copy)."""
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + ".key")
    shutil.copyfile(c.cert, cert)
    shutil.copyfile(c.key, key)
    os.chmod(key, 0o600)
    return Cert(cert, key, c.kind)


def stub(path, body):
    """An executable shell script at path: a stand-in for a command."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def replace_file(src, dst):
    """Replace dst by a copy of src atomically (write then rename)."""
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


def client_ctx(cafile=None, minv=None, maxv=None, ciphers=None):
    """A TLS client context. With cafile the server must present that
    certificate (verified, host name checked); without, anything goes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minv is not None:
        ctx.minimum_version = minv
    if maxv is not None:
        ctx.maximum_version = maxv
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def peer_fingerprint(sslsock):
    return hashlib.sha256(sslsock.getpeercert(binary_form=True)).hexdigest()


def spki_openssl(cert):
    """The TLSA 3 1 1 data of a PEM certificate file, computed by openssl
    alone."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey",
                          "-noout"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------- config

class Listener:
    def __init__(self, name, host, port, role, tls):
        self.name = name
        self.host = host
        self.port = port
        self.role = role
        self.tls = tls
        self.options = {}   # more keys of its section (password_file,
                            # proxy_protocol: greet() then sends a header)

    @property
    def address(self):
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    def __repr__(self):
        return "<listener %s %s %s/%s>" % (self.name, self.address,
                                           self.role, self.tls)


class Config:
    """A sealmail.conf under construction. `server`, `tls`, `delivery`,
    `dns` and `auth` are dicts of key -> value; listeners and domains are
    kept in order. write() produces the INI text."""

    def __init__(self, folder, certs):
        self.folder = folder
        self.path = os.path.join(folder, "sealmail.conf")
        self.data_dir = os.path.join(folder, "data")
        self.server = {
            "hostname": HOSTNAME,
            "data_dir": self.data_dir,
            "user": "",
            "workers": "2",
            "max_message_size": "100000",
            "max_recipients": "100",
            "max_connections": "100",
            "max_connections_per_ip": "50",
            "max_errors": "10",
            "command_timeout": "5m",
            "data_timeout": "5m",
            "tls_handshake_timeout": "30s",
            # Each daemon its own local submission socket (the default,
            # /run/sealmail/submit.sock, is one per machine).
            "submit_socket": os.path.join(folder, "submit.sock"),
        }
        self.certs = list(certs)
        self.tls = {"min_version": "TLSv1.2"}
        self.listeners = {}
        self.domains = [DOMAIN]
        # dane = no: most configs have no trust anchor (trust_anchor =
        # "" below), and with DANE on serve refuses to start without
        # working DNSSEC. A test that wants DANE sets dane = yes and the
        # DNS server's trust_anchor_file.
        self.delivery = {"local": "maildir", "retry_schedule": "1s, 2s",
                         "dane": "no"}
        self.auth = {}
        self.dns = {"resolver": DNS_RESOLVER, "trust_anchor": ""}
        self.extra = ""

    def listen(self, name, role, tls, host="127.0.0.1", port=None):
        if port is None:
            # A port just closed may be handed out again at once: never
            # give two listeners of one config the same one.
            used = {l.port for l in self.listeners.values()}
            port = free_port(host)
            while port in used:
                port = free_port(host)
        self.listeners[name] = Listener(name, host, port, role, tls)
        return self.listeners[name]

    def listen_proxied(self, listeners, proxy_from="127.0.0.1"):
        """Listeners ((name, role, tls), ...) behind a PROXY protocol
        load balancer at proxy_from."""
        for name, role, tls in listeners:
            lst = self.listen(name, role, tls)
            lst.options["proxy_protocol"] = "yes"
            lst.options["proxy_from"] = proxy_from

    def __getitem__(self, name):
        return self.listeners[name]

    def text(self):
        out = ["# written by tests/integration/harness.py", "[server]"]
        out += ["%s = %s" % kv for kv in self.server.items()]
        out += ["", "[tls]"]
        for c in self.certs:
            out += ["cert = %s" % c.cert, "key = %s" % c.key]
        out += ["%s = %s" % kv for kv in self.tls.items()]
        for lst in self.listeners.values():
            out += ["", '[listen "%s"]' % lst.name,
                    "address = %s" % lst.address,
                    "role = %s" % lst.role, "tls = %s" % lst.tls]
            out += ["%s = %s" % kv for kv in lst.options.items()]
        for d in self.domains:
            out += ["", '[domain "%s"]' % d]
        for sect in ("delivery", "auth", "dns"):
            vals = getattr(self, sect)
            if vals:
                out += ["", "[%s]" % sect]
                out += ["%s = %s" % kv for kv in vals.items()]
        return "\n".join(out) + "\n" + self.extra

    def write(self):
        os.makedirs(self.folder, exist_ok=True)
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.path, "w") as f:
            f.write(self.text())
        os.chmod(self.path, 0o644)   # check-config refuses group-writable
        return self.path


def standard_config(folder, certs, ipv6=None):
    """The configuration most tests share: every role x TLS mode on its
    own loopback port, plus an mx listener on [::1] when IPv6 works."""
    cfg = Config(folder, certs)
    cfg.listen("mx", "mx", "starttls")
    cfg.listen("mx_implicit", "mx", "implicit")
    cfg.listen("mx_plain", "mx", "none")
    cfg.listen("submission", "submission", "starttls")
    cfg.listen("submissions", "submission", "implicit")
    cfg.listen("plain", "submission", "none")
    if ipv6 is None:
        ipv6 = ipv6_available()
    if ipv6:
        cfg.listen("mx6", "mx", "starttls", host="::1")
    return cfg


# ---------------------------------------------------------------- CLI

def run_cli(cfg_path, *args, input=None, timeout=60):
    """Run `sealmail -c CFG ARGS...`; returns the CompletedProcess (text)."""
    cmd = [sealmail_bin()]
    if cfg_path is not None:
        cmd += ["-c", cfg_path]
    cmd += list(args)
    return subprocess.run(cmd, input=input, capture_output=True, text=True,
                          timeout=timeout * SLOW)


def cli_ok(cfg_path, *args, input=None):
    r = run_cli(cfg_path, *args, input=input)
    if r.returncode != 0:
        raise HarnessError("sealmail %s failed (exit %d): %s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def provision(cfg):
    """Write the config and create the standard accounts and aliases."""
    cfg.write()
    for addr, pw in USERS.items():
        cli_ok(cfg.path, "user", "add", addr, "--password-stdin",
               input=pw + "\n")
    for addr, target in ALIASES:
        cli_ok(cfg.path, "alias", "add", addr, target)


# ---------------------------------------------------------------- processes

def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    # comm may hold spaces or parentheses: fields start after the last ')'.
    return int(st[st.rindex(")") + 2:].split()[1])


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def children(pid):
    """[(pid, comm)] of the live children of pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_ppid(int(d)) == pid and proc_alive(int(d)):
            out.append((int(d), proc_comm(int(d))))
    return sorted(out)


def socket_inode(local_port, peer_port):
    """The inode of the TCP socket whose local port is local_port and whose
    peer port is peer_port (as /proc/net/tcp{,6} list them), or None."""
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(fn) as f:
            next(f)
            for line in f:
                fields = line.split()
                lport = int(fields[1].rsplit(":", 1)[1], 16)
                rport = int(fields[2].rsplit(":", 1)[1], 16)
                if lport == local_port and rport == peer_port:
                    return int(fields[9])
    return None


def pid_holding_socket(pids, inode):
    want = "socket:[%d]" % inode
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == want:
                    return pid
            except OSError:
                pass
    return None


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns something true; return that value.
    Raises AssertionError naming `what` after timeout seconds (scaled)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (
                timeout * SLOW, what))
        time.sleep(interval)


# ---------------------------------------------------------------- daemon

ALL_DAEMONS = []


class Daemon:
    """One `sealmail serve` master process and its configuration."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.proc = None
        self.logf = None
        self.log_path = None
        self.known_children = set()
        self.stopped_at = None
        self.runs = 0
        ALL_DAEMONS.append(self)

    @property
    def pid(self):
        return self.proc.pid

    @property
    def data_dir(self):
        return self.cfg.data_dir

    def __getitem__(self, name):
        return self.cfg[name]

    def start(self, timeout=20):
        """Write the config, start the master and wait until every listener
        greets."""
        self.cfg.write()
        self.runs += 1
        self.log_path = os.path.join(self.cfg.folder,
                                     "sealmail-%d.log" % self.runs)
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sealmail_bin(), "-c", self.cfg.path, "serve"],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            cwd=self.cfg.folder)
        self.stopped_at = None
        try:
            self.wait_ready(timeout)
        except BaseException:
            self._kill()
            raise
        self.known_children |= {p for p, _ in children(self.pid)}
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout * SLOW
        pending = list(self.cfg.listeners.values())
        last = None
        while pending:
            if self.proc.poll() is not None:
                raise HarnessError("sealmail serve exited with %s before it "
                                   "was ready:\n%s" % (self.proc.returncode,
                                                       self.log_tail()))
            try:
                greet(pending[0])
                pending.pop(0)
                continue
            except (OSError, ValueError) as e:
                last = e
            if time.monotonic() > deadline:
                raise HarnessError("listener %r not ready after %.0fs (%s):\n"
                                   "%s" % (pending[0], timeout * SLOW, last,
                                           self.log_tail()))
            time.sleep(0.05)

    def children(self):
        kids = children(self.pid)
        self.known_children |= {p for p, _ in kids}
        return kids

    def workers(self):
        return [p for p, c in self.children() if c == "sealmail-smtp"]

    def signal(self, sig):
        os.kill(self.pid, sig)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10, signalled=False):
        """SIGTERM, wait for the master (and its children) to exit. Raises
        HarnessError if it had died already, needed SIGKILL, exited with a
        status other than 0, left children behind, or the log shows a
        sanitizer report. signalled: the test sent SIGTERM itself."""
        if self.proc is None or self.stopped_at is not None:
            return
        problems = []
        if self.proc.poll() is not None and not signalled:
            problems.append("master had already exited with %s" %
                            self.proc.returncode)
        else:
            self.children()
            if not signalled:
                self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout * SLOW)
                if rc != 0:
                    problems.append("master exited with status %s after "
                                    "SIGTERM" % rc)
            except subprocess.TimeoutExpired:
                problems.append("master did not exit %.0fs after SIGTERM" %
                                (timeout * SLOW))
        leftovers = self._reap_children(5)
        if leftovers:
            problems.append("children left running after the master "
                            "exited: %s" % leftovers)
        self._kill()
        text = self.log_text()
        for m in SANITIZER_MARKS:
            if m in text:
                problems.append("sanitizer report in the log (%s)" % m)
        if problems:
            raise HarnessError("; ".join(problems) + "\n" + self.log_tail())

    def _reap_children(self, timeout):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            left = [p for p in self.known_children if proc_alive(p)
                    and proc_comm(p) and proc_comm(p).startswith("sealmail")]
            if not left:
                return []
            time.sleep(0.05)
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        return left

    def _kill(self):
        """Make sure nothing of this run is left, whatever state it is in."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for p in self.known_children:
            if proc_alive(p) and (proc_comm(p) or "").startswith("sealmail"):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        self.known_children = set()
        if self.logf:
            self.logf.close()
            self.logf = None
        if self.stopped_at is None:
            self.stopped_at = time.time()

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        if not self.log_path:
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    # Shortcuts to the mail store and the spool.
    def mailbox(self, address, folder=None):
        return Mailbox(self.data_dir, address, folder)

    def queue_ids(self):
        return queue_ids(self.data_dir)

    def cli(self, *args, input=None):
        return run_cli(self.cfg.path, *args, input=input)


def greet(lst, timeout=2):
    """Connect to a listener and read its 220 greeting (after the handshake
    on implicit TLS). Raises OSError/ValueError if it is not there yet."""
    fam = socket.AF_INET6 if ":" in lst.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((lst.host, lst.port))
        if lst.options.get("proxy_protocol") == "yes":
            # A PROXY v2 LOCAL header, as a load balancer's health check
            # sends (its proxy_from must hold the loopback address).
            s.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
        if lst.tls == "implicit":
            s = client_ctx().wrap_socket(s)
        if lst.role in ("https", "admin"):
            # HTTP listeners say nothing first: a status line to any
            # request (a HEAD of /) shows the worker serves them.
            s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                raise ValueError("closed before the greeting")
            data += chunk
        if lst.role in ("https", "admin"):
            if not data.startswith(b"HTTP/1.1 "):
                raise ValueError("HTTP status line %r" % data)
            return
        if not data.startswith(b"220 ") and not data.startswith(b"220-"):
            raise ValueError("greeting %r" % data)
        try:
            s.sendall(b"QUIT\r\n")
        except OSError:
            pass
    finally:
        s.close()


# ---------------------------------------------------------------- storage

class Mailbox:
    """DATA/mail/DOMAIN/LOCAL/Maildir (or its .FOLDER subfolder)."""

    def __init__(self, data_dir, address, folder=None):
        local, domain = address.rsplit("@", 1)
        self.path = os.path.join(data_dir, "mail", domain.lower(), local,
                                 "Maildir")
        if folder:
            self.path = os.path.join(self.path, "." + folder)

    def files(self):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.path, sub)
            try:
                out += [os.path.join(d, n) for n in sorted(os.listdir(d))
                        if not n.startswith(".")]
            except (FileNotFoundError, NotADirectoryError):
                pass
        return out

    def messages(self):
        out = []
        for p in self.files():
            try:
                with open(p, "rb") as f:
                    out.append(f.read())
            except FileNotFoundError:
                pass
        return out

    def with_marker(self, marker):
        if isinstance(marker, str):
            marker = marker.encode()
        return [m for m in self.messages() if marker in m]

    def wait_for(self, marker, count=1, timeout=15):
        """Wait until `count` messages hold marker; returns them."""
        return wait_until(
            lambda: (lambda ms: ms if len(ms) >= count else None)(
                self.with_marker(marker)),
            timeout, what="%d message(s) with %r in %s" % (count, marker,
                                                            self.path))

    def tmp_files(self):
        try:
            return os.listdir(os.path.join(self.path, "tmp"))
        except (FileNotFoundError, NotADirectoryError):
            return []


def queue_ids(data_dir):
    """Committed queue ids (those with a queue/ID.msg file)."""
    d = os.path.join(data_dir, "spool", "queue")
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return set()
    return {n[:-4] for n in names if n.endswith(".msg")}


def spool_file(data_dir, qid, ext):
    return os.path.join(data_dir, "spool", "queue", qid + "." + ext)


def spool_split(data_dir, qid):
    """(message bytes, committed envelope text) of queue/ID.msg: the
    commit appends the envelope and a trailer "SMENV1 <16 hex: envelope
    length>\n" to the message (src/queue/spool.c)."""
    with open(spool_file(data_dir, qid, "msg"), "rb") as f:
        data = f.read()
    tag = data[-24:]
    assert tag.startswith(b"SMENV1 ") and tag.endswith(b"\n"), tag
    start = len(data) - 24 - int(tag[7:23], 16)
    return data[:start], data[start:-24].decode()


def block_domain(data_dir, domain=DOMAIN):
    """Make local delivery into `domain` fail with a temporary error: its
    mail folder becomes a regular file (mode bits would not stop root)."""
    p = os.path.join(data_dir, "mail", domain)
    if os.path.isdir(p):
        shutil.rmtree(p)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write("blocked by the test harness\n")


def unblock_domain(data_dir, domain=DOMAIN):
    p = os.path.join(data_dir, "mail", domain)
    if os.path.isfile(p):
        os.unlink(p)


# ---------------------------------------------------------------- messages

def new_marker():
    return "mk" + uuid.uuid4().hex


def make_message(frm, to, marker, body=None, headers=()):
    """An RFC 5322 message (CRLF line ends) whose Subject holds marker."""
    lines = ["From: %s" % frm, "To: %s" % to,
             "Subject: test %s" % marker,
             "Message-ID: <%s@client.example.test>" % marker,
             "Date: Thu, 01 Jan 2026 00:00:00 +0000"]
    lines += list(headers)
    lines += ["", body if body is not None else "Hello %s." % marker]
    return ("\r\n".join(lines) + "\r\n").encode()


def split_message(raw):
    """(header bytes, body bytes) of a delivered message (LF or CRLF)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i != -1:
            return raw[:i + len(sep) // 2], raw[i + len(sep):]
    return raw, b""


def header_values(raw, name):
    """Unfolded values of every header field `name` of a message."""
    head, _ = split_message(raw)
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    out, cur = [], None
    for line in text.split("\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += " " + line.strip()
            continue
        if cur is not None:
            out.append(cur)
            cur = None
        if ":" in line and line.split(":", 1)[0].strip().lower() == \
                name.lower():
            cur = line.split(":", 1)[1].strip()
    if cur is not None:
        out.append(cur)
    return out


class DaemonGroup:
    """Daemons started together and stopped together (the pools of the
    integration and outbound suites build on it)."""

    def __init__(self):
        self.daemons = []

    def start(self, cfg, provision=provision):
        """Provision cfg (unless provision is None), start a daemon."""
        if provision:
            provision(cfg)
        d = Daemon(cfg)
        self.daemons.append(d)
        d.start()
        return d

    def stop_all(self):
        """Stop every daemon, even when one fails; the errors, as text."""
        errors = []
        for d in self.daemons:
            try:
                d.stop()
            except Exception as e:  # stop the others before failing
                errors.append(str(e))
        self.daemons = []
        return errors


# Mappings larger than this are a sanitizer's shadow, not a heap.
SCAN_REGION_MAX = 4 << 30
SCAN_CHUNK = 16 << 20


def memory_hits(pid, want):
    """Which names of want (name -> bytes) are in pid's readable memory,
    read through /proc/PID/mem (root may, as a debugger would), a chunk at
    a time, so a sanitizer build's huge mappings are no problem."""
    overlap = max(len(b) for b in want.values())
    hits = set()
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if "r" not in parts[1] or (len(parts) > 5 and parts[5] in
                                       ("[vvar]", "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo > SCAN_REGION_MAX:
                continue
            tail = b""
            for at in range(lo, hi, SCAN_CHUNK):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(SCAN_CHUNK, hi - at))
                except (OSError, ValueError, OverflowError):
                    break
                hits |= {w for w, b in want.items() if b in data}
                tail = data[-overlap:]
    return hits
