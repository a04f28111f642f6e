#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""`make bench`: sealmail against Postfix and Exim on this machine.

Starts sealmail (build/sealmail serve, bench config in build/bench/sealmail),
Postfix and Exim (Debian's .debs unpacked with dpkg -x into
build/bench/peers/, never installed system-wide), each on its own loopback
ports with the same ECDSA P-256 certificate and Maildir delivery, and runs
build/smtpload against each, interleaved (A B C A B C), so machine noise hits
all alike. Prints a table of medians with min-max and the ratio sealmail /
peer, writes it to bench/results/latest.txt (+ .json) and a gnuplot chart to
bench/results/latest.png (a quick run: bench/results/quick.*). Every process it starts it stops, also on failure.

    /usr/bin/python3 bench/run.py            # full matrix (~16-20 min)
    BENCH_QUICK=1 /usr/bin/python3 bench/run.py   # reduced matrix (~3 min)
    /usr/bin/python3 bench/run.py --profile  # perf profile of sealmail only

Environment: BENCH_QUICK=1, BENCH_REPS, BENCH_DURATION (s per run),
BENCH_MTAS (sealmail,postfix,exim), BENCH_SCENARIOS (names, see SCENARIOS),
SEALMAIL_BIN, SMTPLOAD_BIN. bench/README.md explains the scenarios.
Standard library only; needs root (users, ports, peers' privilege drop).
"""
import argparse
import json
import os
import platform
import pwd
import grp
import re
import resource
import shlex
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_dir():
    """build/bench, unless a folder above the tree is closed to others (a
    clone in root's home, mode 0700): the peers' processes that run as the
    bench user could not reach their queues and mailboxes there (Postfix
    then never listens), so /var/tmp/sealmail-bench is used instead."""
    p = ROOT
    while True:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            d = "/var/tmp/sealmail-bench"
            os.makedirs(d, mode=0o755, exist_ok=True)
            os.chmod(d, 0o755)
            return d
        if p == os.path.dirname(p):
            return os.path.join(ROOT, "build", "bench")
        p = os.path.dirname(p)


B = bench_dir()
PEERS = os.path.join(B, "peers")
RESULTS = os.path.join(ROOT, "bench", "results")
SEALMAIL = os.environ.get("SEALMAIL_BIN", os.path.join(ROOT, "build", "sealmail"))
SMTPLOAD = os.environ.get("SMTPLOAD_BIN", os.path.join(ROOT, "build", "smtpload"))
# BENCH_BASELINE=REV adds sealmail as built from git revision REV
# ("sealmail-base") to the same run, so a change is measured before and
# after on the same machine at the same time.
BASELINE = os.environ.get("BENCH_BASELINE", "")
PY = "/usr/bin/python3"
USER, SGID_GROUP = "sealbench", "sealbenchd"
RCPT, SENDER = "bench@example.test", "load@sender.test"
# Idle-session memory runs stop when the machine gets this close to OOM.
MEM_GUARD_KIB = 3 * 1024 * 1024
MAXPROC = 11000          # peers' per-service process limits (idle 10k test)

# name: (kind, smtpload args, what it shows). Throughput runs are bounded
# by time (-d), idle runs by the hold time.
SCENARIOS = {
    "tls_c1":     ("mail", ["-m", "tls", "-c", "1", "-S", "2048"],
                   "implicit TLS, 1 session, 2 KB, 10 msgs/session"),
    "tls_c8":     ("mail", ["-m", "tls", "-c", "8", "-S", "2048"],
                   "implicit TLS, 8 sessions"),
    "tls_c32":    ("mail", ["-m", "tls", "-c", "32", "-S", "2048"],
                   "implicit TLS, 32 sessions"),
    "tls_c128":   ("mail", ["-m", "tls", "-c", "128", "-S", "2048"],
                   "implicit TLS, 128 sessions"),
    "tls_c32_100k": ("mail", ["-m", "tls", "-c", "32", "-S", "102400"],
                     "implicit TLS, 32 sessions, 100 KB"),
    "starttls_c32": ("mail", ["-m", "starttls", "-c", "32", "-S", "2048"],
                     "STARTTLS, 32 sessions"),
    "hs_c32":     ("handshake", ["-m", "tls", "-c", "32"],
                   "connect+TLS+greeting+QUIT, full handshakes"),
    "hs_resume_c32": ("handshake", ["-m", "tls", "-c", "32", "-e"],
                      "the same with TLS session resumption"),
    "e2e_c32":    ("e2e", ["-m", "tls", "-c", "32", "-S", "2048"],
                   "accepted -> all files in the Maildir"),
    "idle_1k":    ("idle", ["-m", "tls", "-K", "1000"],
                   "PSS of server processes, 1000 idle TLS sessions"),
    "idle_10k":   ("idle", ["-m", "tls", "-K", "10000"],
                   "PSS of server processes, 10000 idle TLS sessions"),
}
FULL = ["tls_c1", "tls_c8", "tls_c32", "tls_c128", "tls_c32_100k",
        "starttls_c32", "hs_c32", "hs_resume_c32", "e2e_c32", "idle_1k",
        "idle_10k"]
QUICK = ["tls_c1", "tls_c32", "hs_c32", "e2e_c32", "idle_1k"]

started = []             # Popen objects we own, stopped in cleanup()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def fill(template, out, values):
    text = open(template).read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError("%s: unfilled %s" % (template, left))
    with open(out, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- processes

def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid):
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu(pid):
    """utime+stime of the live tree plus its reaped children, in seconds."""
    tot = 0
    for p in tree(pid):
        try:
            st = open("/proc/%d/stat" % p).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        tot += sum(int(x) for x in f[11:15])
    return tot / os.sysconf("SC_CLK_TCK")


def tree_mem(pid):
    """(PSS KiB, RSS KiB, processes) summed over the server's tree."""
    pss = rss = n = 0
    for p in tree(pid):
        try:
            for line in open("/proc/%d/smaps_rollup" % p):
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
            n += 1
        except OSError:
            pass
    return pss, rss, n


def mem_available():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def spawn(cmd, logfile, env=None):
    f = open(logfile, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    started.append(p)
    return p


def stop_proc(p, timeout=10.0):
    """SIGTERM our process, then SIGKILL its session if it lingers."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Daemons fork; all of them stay in the session we created.
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.getsid(int(d)) == p.pid:
                os.kill(int(d), signal.SIGKILL)
        except OSError:
            pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass


def cleanup():
    while started:
        stop_proc(started.pop())


# ------------------------------------------------------------------- setup

def ensure_users():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        run(["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             USER])
    try:
        grp.getgrnam(SGID_GROUP)
    except KeyError:
        run(["groupadd", "--system", SGID_GROUP])
    # Debian's exim binary looks this user up by name before reading its
    # configuration; the bench config then runs Exim as USER.
    try:
        pwd.getpwnam("Debian-exim")
    except KeyError:
        run(["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             "Debian-exim"])


def make_cert():
    d = os.path.join(B, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
         "-days", "7", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.chown(key, 0, grp.getgrnam(USER).gr_gid)
    os.chmod(key, 0o640)
    os.chmod(d, 0o755)
    return cert, key


def start_dns():
    """NSD on loopback serving the sender domain's SPF and DMARC records,
    so sealmail's inbound checks do real (cached) lookups."""
    d = os.path.join(B, "dns")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    zone = os.path.join(d, "test.zone")
    with open(zone, "w") as f:
        f.write("$ORIGIN test.\n$TTL 86400\n"
                "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600\n"
                "@ IN NS ns\nns IN A 127.0.0.1\n"
                'sender IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                '_dmarc.sender IN TXT "v=DMARC1; p=none"\n')
    # Not capture_output: NSD and the black hole inherit the pipe and
    # would keep it open; the result is in server.json.
    with open(os.path.join(d, "start.log"), "w") as f:
        run([PY, os.path.join(ROOT, "tests/dns/dnsserver.py"), "start",
             os.path.join(d, "run"), zone], stdout=f, stderr=f)
    return json.load(open(os.path.join(d, "run", "server.json")))


def stop_dns():
    d = os.path.join(B, "dns", "run")
    if os.path.exists(os.path.join(d, "server.json")):
        subprocess.run([PY, os.path.join(ROOT, "tests/dns/dnsserver.py"),
                        "stop", d], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def fetch_peer(name, debs):
    """dpkg -x Debian's packages into build/bench/peers/NAME (once), and
    apt-get install the shared libraries they need that are missing
    (libraries only: the MTA packages are never installed)."""
    prefix = os.path.join(PEERS, name)
    stamp = os.path.join(prefix, ".unpacked")
    if os.path.exists(stamp):
        return prefix
    dl = os.path.join(B, "debs")
    os.makedirs(dl, exist_ok=True)
    os.chmod(dl, 0o777)   # apt's _apt user downloads into it
    shutil.rmtree(prefix, ignore_errors=True)
    os.makedirs(prefix)
    for pkg in debs:
        files = [f for f in os.listdir(dl) if f.startswith(pkg + "_")]
        if not files:
            run(["apt-get", "download", "-q", pkg], cwd=dl,
                stdout=subprocess.DEVNULL)
            files = [f for f in os.listdir(dl) if f.startswith(pkg + "_")]
        deb = os.path.join(dl, sorted(files)[-1])
        run(["dpkg", "-x", deb, prefix])
        dep = subprocess.run(["dpkg-deb", "-f", deb, "Depends"],
                             capture_output=True, text=True).stdout
        need = []
        for alt in dep.split(","):
            n = alt.split("|")[0].split("(")[0].strip()
            if n.startswith("lib") and subprocess.run(
                    ["dpkg", "-s", n], capture_output=True).returncode != 0:
                need.append(n)
        if need:
            log("installing libraries for %s: %s" % (pkg, " ".join(need)))
            run(["apt-get", "install", "-y", "-q"] + need,
                stdout=subprocess.DEVNULL)
    open(stamp, "w").close()
    return prefix


# ----------------------------------------------------------------- servers

class Server:
    name = "?"

    def __init__(self, cert, key):
        self.cert, self.key = cert, key
        self.dir = os.path.join(B, self.name)
        self.ports = {"tls": free_port(), "starttls": free_port()}
        self.proc = None

    def maildir(self):
        return os.path.join(self.dir, "mail", "example.test", "bench",
                            "Maildir")

    def count(self):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += sum(1 for _ in os.scandir(os.path.join(self.maildir(),
                                                            sub)))
            except FileNotFoundError:
                pass
        return n

    def clear_mail(self):
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(), sub)
            if os.path.isdir(d):
                for e in os.scandir(d):
                    os.unlink(e.path)

    def settle(self, quiet=1.0, limit=90.0):
        """Wait until deliveries stop (no new Maildir file for `quiet` s
        and the server's processes use under 5% of a core), then empty the
        Maildir, so no run (of this or another server) pays for the last
        one's backlog."""
        end = time.monotonic() + limit
        last, since = -1, time.monotonic()
        cpu, t = tree_cpu(self.proc.pid), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.25)
            n = self.count()
            cpu2, t2 = tree_cpu(self.proc.pid), time.monotonic()
            busy = (cpu2 - cpu) / (t2 - t) > 0.05
            cpu, t = cpu2, t2
            if n != last or busy:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        self.clear_mail()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        raise NotImplementedError

    def version(self):
        return "?"


class Sealmail(Server):
    name = "sealmail"
    bin = SEALMAIL

    def maildir(self):
        return os.path.join(self.dir, "data", "mail", "example.test",
                            "bench", "Maildir")

    def start(self, dns):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "sealmail.conf")
        fill(os.path.join(ROOT, "bench/sealmail.conf.in"),
             conf, {"DIR": self.dir, "CERT": self.cert, "KEY": self.key,
                    "PORT_TLS": self.ports["tls"],
                    "PORT_STARTTLS": self.ports["starttls"],
                    "RESOLVER": dns["resolver"],
                    "UNBOUND_CONFIG": dns["unbound_config"]})
        run([self.bin, "-c", conf, "user", "add", RCPT, "--password-stdin"],
            input=b"bench-password\n", stdout=subprocess.DEVNULL)
        self.proc = spawn([self.bin, "-c", conf, "serve"],
                          os.path.join(self.dir, "sealmail.log"))
        return wait_port(self.ports["tls"])

    def version(self):
        return "sealmail (%s)" % self.bin


def build_baseline(rev):
    """sealmail as of git revision rev, built once into
    build/bench/baseline/<commit>/ (git archive, then make)."""
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify",
                             rev + "^{commit}"], check=True,
                            capture_output=True, text=True).stdout.strip()
    d = os.path.join(B, "baseline", commit)
    binary = os.path.join(d, "build", "sealmail")
    if not os.access(binary, os.X_OK):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        log("building baseline %s (%s)" % (rev, commit[:12]))
        arc = subprocess.run(["git", "-C", ROOT, "archive", commit],
                             check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=arc, check=True)
        subprocess.run(["make", "-C", d, "-j2", "build/sealmail"],
                       check=True, stdout=subprocess.DEVNULL)
    return binary, commit


class SealmailBase(Sealmail):
    name = "sealmail-base"

    def version(self):
        return "sealmail-base (%s at %s)" % (BASELINE, self.commit[:12])


HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CFG = """\
global
    maxconn 9000

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend fe_tls
    bind 127.0.0.1:{tls}
    default_backend be_tls

backend be_tls
    balance roundrobin
{servers_tls}

frontend fe_starttls
    bind 127.0.0.1:{starttls}
    default_backend be_starttls

backend be_starttls
    balance roundrobin
{servers_starttls}
"""


class SealmailCluster(Sealmail):
    """sealmail nodes behind Debian's HAProxy in TCP mode, which sends
    each connection's PROXY v2 header (send-proxy-v2); TLS ends at the
    nodes. Each node is a whole sealmail (its own data dir, spool and
    Maildir; workers = auto, as shipped) on its own ports. One process
    (a shell) starts them all, so the CPU and memory of the tree are the
    cluster's: HAProxy included. sealmail-lb is one node behind HAProxy
    (what the balancer costs), sealmail-2n two (what a second node
    brings on this machine's cores)."""
    nodes = 2

    def node_dir(self, i):
        return os.path.join(self.dir, "node%d" % i)

    def maildir(self, i=1):
        return os.path.join(self.node_dir(i), "data", "mail", "example.test",
                            "bench", "Maildir")

    def count(self):
        n = 0
        for i in range(1, self.nodes + 1):
            for sub in ("new", "cur"):
                try:
                    n += sum(1 for _ in os.scandir(
                        os.path.join(self.maildir(i), sub)))
                except FileNotFoundError:
                    pass
        return n

    def clear_mail(self):
        for i in range(1, self.nodes + 1):
            for sub in ("new", "cur"):
                d = os.path.join(self.maildir(i), sub)
                if os.path.isdir(d):
                    for e in os.scandir(d):
                        os.unlink(e.path)

    def start(self, dns):
        if not os.access(HAPROXY, os.X_OK):
            raise RuntimeError("haproxy is not installed "
                               "(apt-get install haproxy)")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        cmds, node_ports = [], []
        for i in range(1, self.nodes + 1):
            d = self.node_dir(i)
            os.makedirs(d)
            ports = {"tls": free_port(), "starttls": free_port()}
            node_ports.append(ports)
            conf = os.path.join(d, "sealmail.conf")
            fill(os.path.join(ROOT, "bench/sealmail.conf.in"),
                 conf, {"DIR": d, "CERT": self.cert, "KEY": self.key,
                        "PORT_TLS": ports["tls"],
                        "PORT_STARTTLS": ports["starttls"],
                        "RESOLVER": dns["resolver"],
                        "UNBOUND_CONFIG": dns["unbound_config"]})
            with open(conf) as f:
                text = f.read()
            # Both listeners take the balancer's header.
            text = text.replace("role = mx\n", "role = mx\n"
                                "proxy_protocol = yes\n"
                                "proxy_from = 127.0.0.1\n")
            with open(conf, "w") as f:
                f.write(text)
            run([self.bin, "-c", conf, "user", "add", RCPT,
                 "--password-stdin"], input=b"bench-password\n",
                stdout=subprocess.DEVNULL)
            cmds.append("%s -c %s serve >> %s 2>&1 & p%d=$!;" % (
                shlex.quote(self.bin), shlex.quote(conf),
                shlex.quote(os.path.join(d, "sealmail.log")), i))

        def servers(kind):
            return "\n".join(
                "    server n%d 127.0.0.1:%d send-proxy-v2" % (i + 1, p[kind])
                for i, p in enumerate(node_ports))
        hcfg = os.path.join(self.dir, "haproxy.cfg")
        with open(hcfg, "w") as f:
            f.write(HAPROXY_CFG.format(
                tls=self.ports["tls"], starttls=self.ports["starttls"],
                servers_tls=servers("tls"),
                servers_starttls=servers("starttls")))
        cmds.append("%s -db -f %s & p0=$!;" % (HAPROXY, shlex.quote(hcfg)))
        pids = " ".join("$p%d" % i for i in range(self.nodes + 1))
        # The shell waits for its children and passes SIGTERM on to them
        # (stop_proc then kills whatever is left of the session it
        # leads).
        self.proc = spawn(["/bin/sh", "-c", " ".join(cmds) +
                           " trap 'kill %s; wait' TERM; wait" % pids],
                          os.path.join(self.dir, "cluster.log"))
        return (all(wait_port(p["tls"]) for p in node_ports) and
                wait_port(self.ports["tls"]))

    def version(self):
        return "%s (%d node%s behind %s)" % (
            self.name, self.nodes, "s" if self.nodes > 1 else "",
            subprocess.run([HAPROXY, "-v"], capture_output=True,
                           text=True).stdout.split("\n")[0].strip())


class SealmailLB(SealmailCluster):
    name = "sealmail-lb"
    nodes = 1


class SealmailTwoNodes(SealmailCluster):
    name = "sealmail-2n"
    nodes = 2


class Postfix(Server):
    name = "postfix"

    def start(self, dns):
        self.prefix = fetch_peer("postfix", ["postfix"])
        shutil.rmtree(self.dir, ignore_errors=True)
        etc = os.path.join(self.dir, "etc")
        for d in ("etc", "queue", "data", "log", "mail"):
            os.makedirs(os.path.join(self.dir, d))
        u = pwd.getpwnam(USER)
        for d in ("data", "mail"):
            os.chown(os.path.join(self.dir, d), u.pw_uid, u.pw_gid)
        self.env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(
            self.prefix, "usr/lib/postfix"))
        vals = {"DIR": self.dir, "PREFIX": self.prefix, "USER": USER,
                "SETGID_GROUP": SGID_GROUP, "UID": u.pw_uid,
                "GID": u.pw_gid, "CERT": self.cert, "KEY": self.key,
                "LD_LIBRARY_PATH": self.env["LD_LIBRARY_PATH"],
                "MAXPROC": MAXPROC, "PORT_TLS": self.ports["tls"],
                "PORT_STARTTLS": self.ports["starttls"]}
        src = os.path.join(ROOT, "bench/peers/postfix")
        fill(os.path.join(src, "main.cf.in"), os.path.join(etc, "main.cf"),
             vals)
        fill(os.path.join(src, "master.cf.in"),
             os.path.join(etc, "master.cf"), vals)
        with open(os.path.join(etc, "vmailbox"), "w") as f:
            f.write("%s example.test/bench/Maildir/\n" % RCPT)
        sbin = os.path.join(self.prefix, "usr/sbin")
        # `postfix check` creates the queue directories with their owners.
        subprocess.run([os.path.join(sbin, "postfix"), "-c", etc, "check"],
                       env=self.env, capture_output=True)
        self.proc = spawn([os.path.join(self.prefix,
                                        "usr/lib/postfix/sbin/master"),
                           "-c", etc, "-d"],
                          os.path.join(self.dir, "log", "master.out"),
                          env=self.env)
        return wait_port(self.ports["tls"])

    def version(self):
        try:
            return "Postfix " + subprocess.run(
                [os.path.join(self.prefix, "usr/sbin/postconf"), "-d", "-h",
                 "mail_version"], env=self.env, capture_output=True,
                text=True).stdout.strip()
        except (OSError, AttributeError):
            return "Postfix"


class Exim(Server):
    name = "exim"

    def start(self, dns):
        self.prefix = fetch_peer("exim", ["exim4-daemon-light", "exim4-base",
                                          "exim4-config"])
        shutil.rmtree(self.dir, ignore_errors=True)
        u = pwd.getpwnam(USER)
        for d in ("spool", "log", "mail"):
            os.makedirs(os.path.join(self.dir, d))
            os.chown(os.path.join(self.dir, d), u.pw_uid, u.pw_gid)
        self.conf = os.path.join(self.dir, "exim.conf")
        fill(os.path.join(ROOT, "bench/peers/exim/exim.conf.in"), self.conf,
             {"DIR": self.dir, "PREFIX": self.prefix, "USER": USER,
              "GROUP": USER, "CERT": self.cert, "KEY": self.key,
              "MAXPROC": MAXPROC, "PORT_TLS": self.ports["tls"],
              "PORT_STARTTLS": self.ports["starttls"]})
        self.exim = os.path.join(self.prefix, "usr/sbin/exim4")
        # -q30m: the queue runner interval Debian's init script uses.
        self.proc = spawn([self.exim, "-C", self.conf, "-bdf", "-q30m"],
                          os.path.join(self.dir, "log", "daemon.out"))
        return wait_port(self.ports["tls"])

    def version(self):
        try:
            out = subprocess.run([self.exim, "-C", self.conf, "-bV"],
                                 capture_output=True, text=True).stdout
            return out.splitlines()[0].replace(" version", "")
        except (OSError, IndexError, AttributeError):
            return "Exim"


# ---------------------------------------------------------------- running

def smtpload(args, port, label):
    cmd = [SMTPLOAD, "-j", "-p", str(port), "-l", label, "-f", SENDER,
           "-r", RCPT] + args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("smtpload failed: %s" % p.stderr.strip())
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["warnings"] = [l for l in p.stderr.splitlines() if "WARNING" in l]
    return res


def run_mail(srv, sc, args, duration):
    port = srv.ports["starttls" if "starttls" in args else "tls"]
    c0 = tree_cpu(srv.proc.pid)
    res = smtpload(args + ["-d", str(duration), "-M", "10"], port, sc)
    cpu = tree_cpu(srv.proc.pid) - c0
    res["server_cpu_ms_per_msg"] = (1000 * cpu / res["accepted"]
                                    if res["accepted"] else None)
    res["server_cpu_pct"] = 100 * cpu / res["wall_s"]
    return res


def run_handshake(srv, sc, args, duration):
    c0 = tree_cpu(srv.proc.pid)
    res = smtpload(["-k", "handshake", "-d", str(duration)] + args,
                   srv.ports["tls"], sc)
    cpu = tree_cpu(srv.proc.pid) - c0
    res["server_cpu_ms_per_hs"] = (1000 * cpu / res["sessions"]
                                   if res["sessions"] else None)
    return res


def run_e2e(srv, sc, args, duration):
    """Accepted -> in the Maildir: send for `duration`, then count files
    until every accepted message has arrived (bounded)."""
    srv.settle()
    t0, c0 = time.monotonic(), tree_cpu(srv.proc.pid)
    res = smtpload(args + ["-d", str(duration), "-M", "10", "-w", "0"],
                   srv.ports["tls"], sc)
    want, limit = res["accepted"], time.monotonic() + 120
    n = srv.count()
    while n < want and time.monotonic() < limit:
        time.sleep(0.05)
        n = srv.count()
    dt = time.monotonic() - t0
    res["delivered"] = n
    res["e2e_s"] = dt
    res["e2e_msgs_per_s"] = n / dt if dt > 0 else 0
    res["e2e_complete"] = n >= want
    cpu = tree_cpu(srv.proc.pid) - c0
    res["server_cpu_ms_per_msg"] = 1000 * cpu / n if n else None
    return res


def run_idle(srv, sc, args, hold, ramp):
    """Open K TLS sessions, EHLO, hold them; PSS of the server's process
    tree before and while they are held. Stops early if the machine runs
    short of memory (a per-process peer at 10,000 sessions may)."""
    srv.settle()
    time.sleep(0.5)
    base = tree_mem(srv.proc.pid)
    cmd = [SMTPLOAD, "-j", "-k", "idle", "-p", str(srv.ports["tls"]),
           "-l", sc, "-T", str(hold), "-R", str(ramp), "-o", str(ramp)] + args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(p.stdout),
                              daemon=True)
    reader.start()
    guard, ready, held = False, None, None
    while p.poll() is None:
        if mem_available() < MEM_GUARD_KIB and not guard:
            guard = True
            log("  memory guard: MemAvailable below %d MiB, stopping ramp"
                % (MEM_GUARD_KIB // 1024))
            held = tree_mem(srv.proc.pid)
            p.send_signal(signal.SIGTERM)
        if ready is None and any(l.startswith("READY") for l in lines):
            ready = [l for l in lines if l.startswith("READY")][0].strip()
            time.sleep(min(1.0, hold / 2))
            if held is None:
                held = tree_mem(srv.proc.pid)
        time.sleep(0.2)
    reader.join(10)
    err = p.stderr.read()
    res = json.loads(lines[-1])
    if held is None:
        held = tree_mem(srv.proc.pid)
    est = res["sessions"]
    res.update({"pss_base_kib": base[0], "pss_held_kib": held[0],
                "rss_held_kib": held[1], "procs_held": held[2],
                "memory_guard": guard, "ready": ready,
                "server_alive": srv.alive(),
                "warnings": [l for l in err.splitlines() if "WARNING" in l]})
    res["kib_per_session"] = held[0] / est if est else None
    res["delta_kib_per_session"] = (held[0] - base[0]) / est if est else None
    return res


# --------------------------------------------------------------- reporting

def primary(sc, r):
    kind = SCENARIOS[sc][0]
    if kind == "mail":
        return r["msgs_per_s"]
    if kind == "handshake":
        return r["sessions_per_s"]
    if kind == "e2e":
        return r["e2e_msgs_per_s"]
    return r["kib_per_session"]


UNIT = {"mail": "msgs/s", "handshake": "hs/s", "e2e": "msgs/s",
        "idle": "KiB/sess"}


def med(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def fmt(v, nd=0):
    if v is None:
        return "-"
    return ("%." + str(nd) + "f") % v


def errsum(runs):
    tot = {}
    for r in runs:
        for k, v in r.get("errors", {}).items():
            tot[k] = tot.get(k, 0) + v["n"]
    return ",".join("%s:%d" % kv for kv in sorted(tot.items())) or "0"


def table(results, mtas, scen, ctx):
    L = []
    L.append("sealmail benchmark  %s  (%s)" % (
        time.strftime("%Y-%m-%d %H:%M:%S %Z"), ctx["mode"]))
    L.append("machine: %s, %d CPUs, %s; load avg at start %s, at end %s" % (
        ctx["cpu"], os.cpu_count(), platform.release(), ctx["load0"],
        ctx["load1"]))
    L.append("context: openssl speed ecdsap256 = %s signs/s, %s verifies/s "
             "(1 core); fsync 4 KiB = %s/s (build/bench)" % (
                 ctx["ecdsa_sign"], ctx["ecdsa_verify"], ctx["fsync"]))
    L.append("servers: %s" % "; ".join(ctx["versions"].get(m, m)
                                        for m in mtas))
    loads = [r["loadavg1"] for m in results for sc in results[m]
             for r in results[m][sc] if "loadavg1" in r]
    L.append("runs: %d interleaved repetition(s) of %ss per throughput "
             "scenario; median [min-max]; 1-min load average after the "
             "runs %s-%s on %d CPUs (the servers' own processes count, "
             "blocked in fsync too)" % (ctx["reps"], ctx["duration"],
                           fmt(min(loads) if loads else None, 1),
                           fmt(max(loads) if loads else None, 1),
                           os.cpu_count()))
    L.append("")
    hdr = "%-14s %-9s" % ("scenario", "unit")
    for m in mtas:
        hdr += " %-22s" % m
    for m in mtas[1:]:
        hdr += " %9s" % ("sm/" + (m[len("sealmail-"):]
                                  if m.startswith("sealmail-") else m[:6]))
    L.append(hdr)
    L.append("-" * len(hdr))
    for sc in scen:
        kind = SCENARIOS[sc][0]
        row = "%-14s %-9s" % (sc, UNIT[kind])
        meds = {}
        for m in mtas:
            runs = results.get(m, {}).get(sc, [])
            v, lo, hi = med([primary(sc, r) for r in runs])
            meds[m] = v
            if kind == "idle" and runs:
                r = runs[0]
                cell = "%s (%d/%d)" % (fmt(v), r["sessions"], r["concurrency"])
            elif v is None:
                cell = "-"
            elif len(runs) > 1:
                cell = "%s [%s-%s]" % (fmt(v), fmt(lo), fmt(hi))
            else:
                cell = fmt(v)
            if any(r.get("client_bound") for r in runs):
                cell += "*"
            row += " %-22s" % cell
        for m in mtas[1:]:
            a, b = meds.get(mtas[0]), meds.get(m)
            row += " %9s" % (fmt(a / b, 2) + "x" if a and b else "-")
        L.append(row)
    L.append("")
    L.append("latency p99 per message (ms), errors, server CPU per message:")
    for sc in scen:
        kind = SCENARIOS[sc][0]
        if kind not in ("mail", "e2e", "handshake"):
            continue
        row = "  %-14s" % sc
        for m in mtas:
            runs = results.get(m, {}).get(sc, [])
            if not runs:
                row += " %-30s" % (m + " -")
                continue
            if kind == "handshake":
                p99 = med([r["handshake_ms"]["p99"] for r in runs])[0]
                cpu = med([r.get("server_cpu_ms_per_hs") for r in runs])[0]
            else:
                p99 = med([r["msg_ms"]["p99"] for r in runs])[0]
                cpu = med([r.get("server_cpu_ms_per_msg") for r in runs])[0]
            row += " %-30s" % ("%s p99=%s cpu=%sms err=%s" % (
                m, fmt(p99, 1), fmt(cpu, 2), errsum(runs)))
        L.append(row)
    L.append("")
    L.append("setup (connect -> greeting) p50 ms at tls_c1, TLS session "
             "resumption seen in hs_resume_c32:")
    for m in mtas:
        r1 = results.get(m, {}).get("tls_c1", [])
        rr = results.get(m, {}).get("hs_resume_c32", [])
        s = med([r["setup_ms"]["p50"] for r in r1])[0]
        res = "%d/%d" % (sum(r["resumed"] for r in rr),
                         sum(r["handshakes"] for r in rr)) if rr else "-"
        L.append("  %-9s setup p50=%s ms, resumed %s" % (m, fmt(s, 1), res))
    idle = [sc for sc in scen if SCENARIOS[sc][0] == "idle"]
    if idle:
        L.append("")
        L.append("idle sessions: PSS of the server's processes while held "
                 "(total / sessions; delta over the idle server):")
        for sc in idle:
            for m in mtas:
                for r in results.get(m, {}).get(sc, []):
                    errs = errsum([r])
                    L.append("  %-9s %-9s %5d/%-5d held, PSS %s MiB "
                             "(%s KiB/sess, delta %s KiB/sess), %d procs, "
                             "dropped %d, errors %s%s%s" % (
                                 sc, m, r["sessions"], r["concurrency"],
                                 fmt(r["pss_held_kib"] / 1024, 1),
                                 fmt(r["kib_per_session"]),
                                 fmt(r["delta_kib_per_session"]),
                                 r["procs_held"], r["dropped"], errs,
                                 ", MEMORY GUARD HIT" if r["memory_guard"]
                                 else "",
                                 "" if r["server_alive"] else
                                 ", SERVER DIED"))
    L.extend(targets(results, mtas))
    L.extend(cluster_lines(results, mtas))
    bound = ["%s/%s (%.0f%%)" % (m, sc, r["cpu_pct"]) for m in results
             for sc in results[m] for r in results[m][sc]
             if r.get("client_bound")]
    if bound:
        L.append("")
        L.append("* smtpload used over 85% of a core in these runs, so it may "
                 "have been the bottleneck (the server's number is then a "
                 "lower bound): " + ", ".join(bound))
    return "\n".join(L) + "\n"


def targets(results, mtas):
    """Issue 5's targets, sealmail against Postfix (the fastest peer)."""
    if "postfix" not in mtas:
        return []
    def m(mta, sc, fn=None):
        runs = results.get(mta, {}).get(sc, [])
        return med([(fn or (lambda r: primary(sc, r)))(r) for r in runs])[0]

    def ratio(sc, want):
        a, b = m("sealmail", sc), m("postfix", sc)
        if a is None or not b:
            return "n/a (not run)"
        return "%s: %.2fx Postfix (%s vs %s), target >= %gx" % (
            "MET" if a / b >= want else "NOT MET", a / b, fmt(a), fmt(b),
            want)

    out = ["", "issue 5 targets (sealmail vs Postfix, medians of this run):"]
    out.append("  accepted msgs/s tls_c32 >= 2x (3x stretch): " +
               ratio("tls_c32", 2))
    out.append("  end-to-end msgs/s e2e_c32 >= 2x:           " +
               ratio("e2e_c32", 2))
    out.append("  single session tls_c1 >= 3x:                " +
               ratio("tls_c1", 3))
    p99 = lambda r: r["msg_ms"]["p99"]
    a, b = m("sealmail", "tls_c32", p99), m("postfix", "tls_c32", p99)
    if a is not None and b:
        out.append("  p99 per message at c=32 <= 1/2 Postfix and < 88 ms: "
                   "%s: %.1f ms vs Postfix %.1f ms" % (
                       "MET" if a <= b / 2 and a < 88 else "NOT MET", a, b))
    for sc, want in (("idle_1k", 1000), ("idle_10k", 10000)):
        runs = results.get("sealmail", {}).get(sc, [])
        if runs:
            r = runs[0]
            ok = (r["kib_per_session"] is not None and
                  r["kib_per_session"] <= 32 and r["sessions"] >= want and
                  r["errors_total"] == 0 and r["dropped"] == 0)
            out.append("  %s <= 32 KiB/session, all held, no errors: "
                       "%s: %s KiB/session, %d/%d held, %d errors" % (
                           sc, "MET" if ok else "NOT MET",
                           fmt(r["kib_per_session"], 1), r["sessions"],
                           want, r["errors_total"]))
    out.append("  handshakes/s hs_c32 >= Postfix:             " +
               ratio("hs_c32", 1))
    if "sealmail-base" in mtas:
        # Issue 14: the keys process must keep both >= 2x Postfix.
        out.append("")
        out.append("issue 14 (keys process), before = sealmail-base (%s), "
                   "after = sealmail, both >= 2x Postfix:" % BASELINE)
        for sc in ("hs_c32", "tls_c32"):
            b, a, p = (m("sealmail-base", sc), m("sealmail", sc),
                       m("postfix", sc))
            if a is None or b is None or not p:
                out.append("  %s: n/a (not run)" % sc)
                continue
            out.append("  %-8s before %s (%.2fx Postfix), after %s (%.2fx "
                       "Postfix, %.2fx before): %s" % (
                           sc, fmt(b), b / p, fmt(a), a / p, a / b,
                           "MET" if a / p >= 2 else "NOT MET"))
    rr = results.get("sealmail", {}).get("hs_resume_c32", [])
    if rr:
        n = sum(r["resumed"] for r in rr)
        out.append("  TLS resumption supported: %s (%d of %d handshakes "
                   "resumed)" % ("MET" if n else "NOT MET", n,
                                 sum(r["handshakes"] for r in rr)))
    return out


def cluster_lines(results, mtas):
    """Issue 16: nodes behind HAProxy against one node alone."""
    if "sealmail-lb" not in mtas and "sealmail-2n" not in mtas:
        return []
    out = ["", "issue 16 (nodes behind HAProxy, send-proxy-v2), medians, "
           "against one sealmail alone:"]
    for sc in sorted({sc for m in ("sealmail-lb", "sealmail-2n")
                      for sc in results.get(m, {})}):
        one = med([primary(sc, r) for r in
                   results.get("sealmail", {}).get(sc, [])])[0]
        parts = []
        for m in ("sealmail-lb", "sealmail-2n"):
            v = med([primary(sc, r) for r in
                     results.get(m, {}).get(sc, [])])[0]
            if v is not None and one:
                parts.append("%s %s (%.2fx)" % (m, fmt(v), v / one))
        if one and parts:
            out.append("  %-13s one node %s; %s" % (sc, fmt(one),
                                                   "; ".join(parts)))
    return out


def chart(results, mtas, scen, png):
    if shutil.which("gnuplot") is None:
        log("gnuplot missing: no chart (apt-get install gnuplot-nox)")
        return
    d = os.path.join(B, "chart")
    os.makedirs(d, exist_ok=True)
    def pick(*kinds):
        return [s for s in scen if SCENARIOS[s][0] in kinds]

    panels = [
        ("accepted msgs/s (e2e: into the Maildir)", pick("mail", "e2e"),
         lambda sc, r: primary(sc, r), False),
        ("TLS handshakes/s (connect, handshake, greeting, QUIT)",
         pick("handshake"), lambda sc, r: primary(sc, r), False),
        ("p99 latency per message (ms, log scale)", pick("mail", "e2e"),
         lambda sc, r: r["msg_ms"]["p99"], True),
        ("KiB per idle TLS session (PSS of all server processes / "
         "sessions, log scale)", pick("idle"),
         lambda sc, r: primary(sc, r), True),
    ]
    panels = [p for p in panels if p[1]]
    gp = ["set terminal pngcairo size 1400,%d font 'Sans,10'" %
          (300 * len(panels)), "set output '%s'" % png,
          "set multiplot layout %d,1" % len(panels),
          "set style data histograms", "set style histogram clustered gap 1",
          "set style fill solid 0.85 border -1", "set boxwidth 0.9",
          "set key outside right top", "set grid ytics",
          "set xtics noenhanced", "set termoption noenhanced",
          "set yrange [0:*]", "set offsets 0, 0, graph 0.08, 0"]
    for i, (title, scs, fn, logy) in enumerate(panels):
        path = os.path.join(d, "panel%d.dat" % i)
        with open(path, "w") as f:
            f.write("scenario " + " ".join(mtas) + "\n")
            for sc in scs:
                vals = []
                for m in mtas:
                    v = med([fn(sc, r) for r in
                             results.get(m, {}).get(sc, [])])[0]
                    vals.append("NaN" if v is None else "%.3f" % v)
                f.write(sc + " " + " ".join(vals) + "\n")
        gp.append("set title \"%s\"" % title)
        gp.append("set logscale y" if logy else "unset logscale y")
        gp.append("set yrange [%s:*]" % ("0.1" if logy else "0"))
        gp.append("plot " + ", ".join(
            "'%s' using %d:xtic(1) title columnheader(%d)" % (path, j + 2,
                                                              j + 2)
            for j in range(len(mtas))))
    gp.append("unset multiplot")
    script = os.path.join(d, "chart.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0:
        log("gnuplot failed: " + r.stderr.strip()[:500])


def machine_context(quick):
    ctx = {"mode": "quick" if quick else "full",
           "load0": " ".join(open("/proc/loadavg").read().split()[:3])}
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ctx["cpu"] = cpu
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "ecdsap256"],
                         capture_output=True, text=True).stdout
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+(\S+)\s+(\S+)",
                  out)
    ctx["ecdsa_sign"], ctx["ecdsa_verify"] = (
        ("%.0f" % float(m.group(1)), "%.0f" % float(m.group(2))) if m
        else ("?", "?"))
    path = os.path.join(B, "fsync.tmp")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block, n = b"x" * 4096, 0
    end = time.monotonic() + 3
    t0 = time.monotonic()
    while time.monotonic() < end:
        os.pwrite(fd, block, 0)
        os.fsync(fd)
        n += 1
    ctx["fsync"] = "%.0f" % (n / (time.monotonic() - t0))
    os.close(fd)
    os.unlink(path)
    return ctx


# -------------------------------------------------------------------- main

def profile(srv, duration):
    """perf (software cpu-clock: no hardware counters in this VM) on the
    sealmail workers during a c=32 implicit-TLS run; top symbols."""
    pids = [p for p in tree(srv.proc.pid) if p != srv.proc.pid]
    data = os.path.join(B, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g",
                             "-o", data, "-p", ",".join(map(str, pids)),
                             "--", "sleep", str(duration + 1)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    started.append(perf)
    res = run_mail(srv, "tls_c32", list(SCENARIOS["tls_c32"][1]), duration)
    perf.wait()
    started.remove(perf)
    print("profile run: %.1f msgs/s, server cpu %.2f ms/msg" % (
        res["msgs_per_s"], res["server_cpu_ms_per_msg"] or 0))
    for opts in (["--no-children", "--sort", "dso"],
                 ["--no-children", "--sort", "symbol"]):
        out = subprocess.run(["perf", "report", "-i", data, "--stdio",
                              "-g", "none", "--percent-limit", "1"] + opts,
                             capture_output=True, text=True).stdout
        print("\n".join(l for l in out.splitlines()
                        if l.strip() and not l.startswith("#"))[:6000])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true",
                    default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--duration", type=float, default=None)
    ap.add_argument("--mtas", default=os.environ.get(
        "BENCH_MTAS", "sealmail,postfix,exim"))
    ap.add_argument("--scenarios", default=os.environ.get("BENCH_SCENARIOS"))
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    reps = a.reps or int(os.environ.get("BENCH_REPS", 2 if a.quick else 3))
    duration = a.duration or float(os.environ.get("BENCH_DURATION",
                                                  3 if a.quick else 5))
    scen = (a.scenarios.split(",") if a.scenarios else
            (QUICK if a.quick else FULL))
    for sc in scen:
        if sc not in SCENARIOS:
            sys.exit("unknown scenario %s (have: %s)" % (
                sc, ", ".join(SCENARIOS)))
    mtas = a.mtas.split(",")
    if BASELINE and not a.profile and "sealmail-base" not in mtas:
        mtas.insert(1, "sealmail-base")
    if a.profile:
        mtas = ["sealmail"]
    if os.geteuid() != 0:
        sys.exit("bench/run.py needs root (peers' users, privilege drop)")
    for b in (SEALMAIL, SMTPLOAD):
        if not os.access(b, os.X_OK):
            sys.exit("missing %s: run `make bench`" % b)
    # Thousands of idle sessions need as many descriptors in the servers.
    # (Raising the hard limit needs CAP_SYS_RESOURCE, which a container
    # may not have: then the soft limit goes up to the hard one.)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 10100:
        log("warning: RLIMIT_NOFILE is %d; idle_10k needs 10,100" %
            resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    os.makedirs(B, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *x: sys.exit(1))
    servers = {}
    try:
        ensure_users()
        cert, key = make_cert()
        dns = start_dns()
        classes = {"sealmail": Sealmail, "sealmail-base": SealmailBase,
                   "sealmail-lb": SealmailLB,
                   "sealmail-2n": SealmailTwoNodes,
                   "postfix": Postfix, "exim": Exim}
        if "sealmail-base" in mtas:
            if not BASELINE:
                sys.exit("sealmail-base needs BENCH_BASELINE=REV")
            SealmailBase.bin, SealmailBase.commit = build_baseline(BASELINE)
        for m in mtas:
            srv = classes[m](cert, key)
            log("starting %s" % m)
            try:
                ok = srv.start(dns)
            except (subprocess.CalledProcessError, OSError,
                    RuntimeError) as e:
                log("  %s could not start: %s" % (m, e))
                ok = False
            if not ok:
                if m == "sealmail":
                    raise RuntimeError("sealmail did not start; see %s" %
                                       srv.dir)
                log("  skipping %s" % m)
                continue
            servers[m] = srv
        mtas = [m for m in mtas if m in servers]
        if a.profile:
            profile(servers["sealmail"], duration * 2)
            return
        ctx = machine_context(a.quick)
        ctx.update({"reps": reps, "duration": duration,
                    "versions": {m: s.version() for m, s in servers.items()}})
        # Warm-up: Postfix and Exim spawn processes on first use.
        for m, srv in servers.items():
            run_mail(srv, "warmup", ["-m", "tls", "-c", "32"], 2)
            srv.settle()
        results = {m: {} for m in mtas}
        t_begin = time.monotonic()
        # Throughput repetitions first, the memory scenarios once at the
        # end: after holding thousands of sessions Postfix and Exim spend
        # a while reaping their processes (load averages in the hundreds),
        # which would land on the next repetition's first runs.
        order = [(rep, sc) for rep in range(reps) for sc in scen
                 if SCENARIOS[sc][0] != "idle"]
        order += [(0, sc) for sc in scen if SCENARIOS[sc][0] == "idle"]
        for rep, sc in order:
            kind, args, _ = SCENARIOS[sc]
            for m in mtas:
                srv = servers[m]
                if not srv.alive():
                    log("  %s is not running any more" % m)
                    continue
                log("[%d/%d] %-13s %-8s" % (rep + 1, reps, sc, m))
                if kind == "mail":
                    r = run_mail(srv, sc, list(args), duration)
                elif kind == "handshake":
                    r = run_handshake(srv, sc, list(args), duration)
                elif kind == "e2e":
                    r = run_e2e(srv, sc, list(args), duration)
                else:
                    r = run_idle(srv, sc, list(args),
                                 hold=3 if a.quick else 5,
                                 ramp=15 if a.quick else 60)
                r["loadavg1"] = float(open("/proc/loadavg").read()
                                      .split()[0])
                results[m].setdefault(sc, []).append(r)
                log("      -> %s %s, errors %s" % (
                    fmt(primary(sc, r), 1), UNIT[kind], errsum([r])))
                if kind in ("mail", "handshake"):
                    srv.settle()
        ctx["load1"] = " ".join(open("/proc/loadavg").read().split()[:3])
        ctx["elapsed"] = time.monotonic() - t_begin
        text = table(results, mtas, scen, ctx)
        print(text)
        # A quick run does not overwrite the full run's results.
        base = os.path.join(RESULTS, "quick" if a.quick else "latest")
        with open(base + ".txt", "w") as f:
            f.write(text)
        with open(base + ".json", "w") as f:
            json.dump({"context": ctx, "scenarios": {
                s: SCENARIOS[s][2] for s in scen}, "results": results}, f,
                indent=1)
        chart(results, mtas, scen, base + ".png")
        log("wrote %s.{txt,json,png} (%.0f s of runs)" % (
            os.path.relpath(base, ROOT), ctx["elapsed"]))
    finally:
        cleanup()
        stop_dns()


if __name__ == "__main__":
    main()
