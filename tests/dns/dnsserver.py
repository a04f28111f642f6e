#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Loopback authoritative DNS for the tests: NSD plus a UDP black hole.

    /usr/bin/python3 tests/dns/dnsserver.py start DIR ZONEFILE...
    /usr/bin/python3 tests/dns/dnsserver.py stop DIR

or, from Python (pytest fixtures):

    import dnsserver
    info = dnsserver.start(dir, zonefiles, servfail=[...], blackhole=[...])
    ...
    dnsserver.stop(dir)

A zone file NAME.zone serves zone NAME. Lines starting with ";!" in a zone
file are harness directives:

    ;! sign                      sign this zone with tests/dns/keys/K<zone>.*
    ;! corrupt OWNER. TYPE       after signing, break that RRset's RDATA (bogus)
    ;! servfail NAME             NAME and below answer SERVFAIL (zone w/o file)
    ;! blackhole NAME            NAME and below never answer (timeout)

start() writes into DIR: zones/, nsd.conf, unbound.conf (for libunbound:
ub_ctx_config, i.e. [dns] unbound_config), trust-anchors (the DS lines of
the signed zones, for [dns] trust_anchor), server.json and server.env
(port, resolver "127.0.0.1@PORT", pids, paths). It returns the same data as
a dict. See tests/dns/README.md and shared/notes/dns-testing.md for why the
settings are what they are (rrl-ratelimit 0, forward mode, no root anchor,
black hole on its own port, infra-cache-max-rtt 500).

Only the standard library is used; NSD (nsd) and ldnsutils (ldns-signzone,
ldns-key2ds) must be installed.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_DIR = os.path.join(HERE, "keys")
NSD = shutil.which("nsd") or "/usr/sbin/nsd"

# The black hole: a bound UDP socket that is never read, in its own process
# so it outlives the CLI "start" command.
BLACKHOLE_CODE = r"""
import signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    signal.pause()
"""

_procs = {}  # dir -> [Popen, ...] started by this process (to reap them)


class DnsServerError(Exception):
    pass


def have_tools():
    """True if NSD and ldnsutils are installed."""
    return all(shutil.which(t) or os.path.exists("/usr/sbin/" + t)
               for t in ("nsd", "ldns-signzone", "ldns-key2ds"))


def _directives(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith(";!"):
                out.append(line[2:].split())
    return out


def _free_port():
    """A port free for UDP and TCP on 127.0.0.1 (NSD binds both)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise DnsServerError("no free port")


def _keys(zone, keysdir):
    """(ksk, zsk) base paths (without .key) for zone."""
    ksk = zsk = None
    for name in sorted(os.listdir(keysdir)):
        if not (name.startswith("K" + zone + ".+") and name.endswith(".key")):
            continue
        base = os.path.join(keysdir, name[:-4])
        with open(base + ".key") as f:
            flags = f.read().split()[3]
        if flags == "257":
            ksk = base
        elif flags == "256":
            zsk = base
    if ksk is None or zsk is None:
        raise DnsServerError("no KSK+ZSK for %s in %s" % (zone, keysdir))
    return ksk, zsk


def _corrupt(path, owner, rtype):
    """Change the last 8 hex digits of owner/rtype's RDATA (an A record: its
    last octet; an AAAA record: the whole address) in a signed file, so its
    RRSIG no longer matches (dns-testing.md §2)."""
    lines, hit = [], 0
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[0].lower() == owner.lower() \
                    and fields[3] == rtype:
                m = re.search(r"[0-9a-fA-F]{8}$", line.rstrip("\n"))
                if rtype == "A":
                    # An address: move its last octet by one.
                    a = fields[4].split(".")
                    a[3] = str((int(a[3]) + 1) % 256)
                    line = line.rstrip("\n")[:-len(fields[4])] + \
                        ".".join(a) + "\n"
                    hit += 1
                elif rtype == "AAAA":
                    # No 8 hex digits in a row: another address.
                    line = " ".join(fields[:4] + ["2001:db8::bad"]) + "\n"
                    hit += 1
                elif m:
                    new = "deadbeef" if m.group(0).lower() != "deadbeef" \
                        else "0badc0de"
                    line = line.rstrip("\n")[:m.start()] + new + "\n"
                    hit += 1
            lines.append(line)
    if hit == 0:
        raise DnsServerError("corrupt: no %s %s in %s" % (owner, rtype, path))
    with open(path, "w") as f:
        f.writelines(lines)


def _sign(zone, src, zdir, keysdir, corrupt):
    """Sign src with the committed keys; returns (signed file name, DS)."""
    ksk, zsk = _keys(zone, keysdir)
    out = os.path.join(zdir, zone + ".signed")
    # Default validity: now .. +4 weeks; signing at start keeps it fresh.
    subprocess.run(["ldns-signzone", "-o", zone, "-f", out, src, ksk, zsk],
                   check=True, capture_output=True)
    for owner, rtype in corrupt:
        _corrupt(out, owner, rtype)
    ds = subprocess.run(["ldns-key2ds", "-n", "-2", ksk + ".key"], check=True,
                        capture_output=True, text=True).stdout.strip()
    return os.path.basename(out), " ".join(ds.split())


def _prepare_zones(d, zonefiles, servfail, blackhole, keysdir):
    zdir = os.path.join(d, "zones")
    os.makedirs(zdir, exist_ok=True)
    zones, anchors = [], []
    servfail, blackhole = list(servfail), list(blackhole)
    for zf in zonefiles:
        base = os.path.basename(zf)
        if not base.endswith(".zone"):
            raise DnsServerError("zone file must be NAME.zone: " + zf)
        zone = base[:-5].rstrip(".")
        dst = os.path.join(zdir, base)
        shutil.copyfile(zf, dst)
        sign, corrupt = False, []
        for dv in _directives(zf):
            if dv[:1] == ["sign"]:
                sign = True
            elif dv[:1] == ["corrupt"] and len(dv) == 3:
                corrupt.append((dv[1], dv[2]))
            elif dv[:1] == ["servfail"] and len(dv) == 2:
                servfail.append(dv[1])
            elif dv[:1] == ["blackhole"] and len(dv) == 2:
                blackhole.append(dv[1])
            else:
                raise DnsServerError("%s: bad directive %r" % (zf, dv))
        fname = base
        if sign:
            fname, ds = _sign(zone, dst, zdir, keysdir, corrupt)
            anchors.append(ds)
        zones.append((zone, fname))
    return zones, anchors, servfail, blackhole


def _write_nsd_conf(d, port, zones, servfail):
    conf = ["server:",
            "    ip-address: 127.0.0.1@%d" % port,
            "    server-count: 1",
            '    username: ""',
            '    chroot: ""',
            '    database: ""',
            '    zonesdir: "%s/zones"' % d,
            '    zonelistfile: "%s/zone.list"' % d,
            '    xfrdfile: "%s/xfrd.state"' % d,
            '    xfrdir: "%s"' % d,
            '    pidfile: "%s/nsd.pid"' % d,
            '    logfile: "%s/nsd.log"' % d,
            # Response rate limiting is on by default (200 qps) and drops
            # test queries (dns-testing.md, pitfall 2).
            "    rrl-ratelimit: 0",
            "    rrl-whitelist-ratelimit: 0",
            "remote-control:",
            "    control-enable: no"]
    for zone, fname in zones:
        conf += ["zone:", "    name: %s" % zone, "    zonefile: %s" % fname]
    # A zone whose file is missing answers SERVFAIL for its whole subtree.
    for name in servfail:
        conf += ["zone:", "    name: %s" % name.rstrip("."),
                 "    zonefile: MISSING-servfail"]
    path = os.path.join(d, "nsd.conf")
    with open(path, "w") as f:
        f.write("\n".join(conf) + "\n")
    return path


def _write_unbound_conf(d, port, bh_port, anchors, blackhole):
    """libunbound config for [dns] unbound_config. The "." forwarder is
    not in it: give the daemon resolver = 127.0.0.1@PORT. unbound-full.conf
    adds it, for tools that take only a config file."""
    lines = ["server:",
             "    trust-anchor-signaling: no",
             "    infra-cache-max-rtt: 500",
             "    do-not-query-localhost: no"]
    lines += ['    trust-anchor: "%s"' % a for a in anchors]
    for name in blackhole:
        lines += ["forward-zone:", '    name: "%s."' % name.rstrip("."),
                  "    forward-addr: 127.0.0.1@%d" % bh_port]
    path = os.path.join(d, "unbound.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    full = lines[:4] + ['    local-zone: "test." transparent',
                        '    local-zone: "2.0.192.in-addr.arpa." transparent']
    full += lines[4:] + ["forward-zone:", '    name: "."',
                         "    forward-addr: 127.0.0.1@%d" % port]
    with open(os.path.join(d, "unbound-full.conf"), "w") as f:
        f.write("\n".join(full) + "\n")
    return path


def _soa_ok(port, zone):
    """One UDP SOA query; True on a NOERROR response."""
    qname = b"".join(bytes([len(l)]) + l.encode()
                     for l in zone.rstrip(".").split(".") if l) + b"\0"
    q = struct.pack(">HHHHHH", 0x5e3a, 0, 1, 0, 0, 0) + qname + \
        struct.pack(">HH", 6, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        r, _ = s.recvfrom(4096)
        return len(r) >= 12 and r[:2] == q[:2] and (r[2] & 0x80) and \
            (r[3] & 0x0f) == 0
    except OSError:
        return False
    finally:
        s.close()


def _spawn_blackhole(d):
    p = subprocess.Popen([sys.executable, "-c", BLACKHOLE_CODE],
                         stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    port = int(p.stdout.readline())
    p.stdout.close()
    _procs.setdefault(d, []).append(p)
    return p.pid, port


def _spawn_nsd(d, conf, zones, timeout=10.0):
    """Start nsd -d; wait for NOERROR from every zone. Returns (pid, ok)."""
    out = open(os.path.join(d, "nsd.out"), "ab")
    p = subprocess.Popen([NSD, "-d", "-c", conf], stdout=out, stderr=out,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()
    _procs.setdefault(d, []).append(p)
    port = int(re.search(r"@(\d+)", open(conf).read()).group(1))
    pending = [z for z, _ in zones]
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        if p.poll() is not None:
            return p.pid, False
        pending = [z for z in pending if not _soa_ok(port, z)]
        if pending:
            time.sleep(0.02)
    return p.pid, not pending


# SOA, NS and the name server's address of a test zone ZONE_HEAD % {"z": zone}.
ZONE_HEAD = """$TTL 300
@ IN SOA ns1.%(z)s. hostmaster.%(z)s. 1 3600 600 86400 300
@ IN NS ns1.%(z)s.
ns1 IN A 127.0.0.1
"""


def write_zones(folder, zones, head=ZONE_HEAD):
    """Write {zone: extra records} as FOLDER/ZONE.zone, each starting with
    head % {"z": zone}; returns the file names, for start()."""
    os.makedirs(folder, exist_ok=True)
    files = []
    for z, extra in zones.items():
        p = os.path.join(folder, "%s.zone" % z)
        with open(p, "w") as f:
            f.write(head % {"z": z} + extra)
        files.append(p)
    return files


def start(d, zonefiles, servfail=(), blackhole=(), keysdir=KEYS_DIR):
    """Start NSD and the black hole for zonefiles in DIR d; see module doc."""
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    zones, anchors, servfail, blackhole = _prepare_zones(
        d, zonefiles, servfail, blackhole, keysdir)
    bh_pid, bh_port = _spawn_blackhole(d)
    info = {"dir": d, "blackhole_pid": bh_pid, "blackhole_port": bh_port,
            "zones": [z for z, _ in zones], "trust_anchors": anchors}
    _save(d, info)
    for _ in range(3):  # the free port can be taken between pick and bind
        port = _free_port()
        conf = _write_nsd_conf(d, port, zones, servfail)
        pid, ok = _spawn_nsd(d, conf, zones)
        info.update(port=port, nsd_pid=pid)
        _save(d, info)
        if ok:
            break
        _stop_nsd(d, pid)
    else:
        stop(d)
        raise DnsServerError("nsd did not start; see %s/nsd.log and nsd.out"
                             % d)
    info["resolver"] = "127.0.0.1@%d" % port
    # The same anchors as a file, for [dns] trust_anchor.
    info["trust_anchor_file"] = os.path.join(d, "trust-anchors")
    with open(info["trust_anchor_file"], "w") as f:
        f.write("".join(a + "\n" for a in anchors))
    info["unbound_config"] = _write_unbound_conf(d, port, bh_port, anchors,
                                                 blackhole)
    _save(d, info)
    return info


def _save(d, info):
    with open(os.path.join(d, "server.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(d, "server.env"), "w") as f:
        for k, v in info.items():
            if isinstance(v, (int, str)):
                f.write("DNS_%s=%s\n" % (k.upper(), v))


def _alive(pid):
    """True while pid exists and is not a zombie (the CLI's children are
    re-parented, and a container's init may not reap them at once)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _reap(d, pid):
    for p in _procs.get(d, []):
        if p.pid == pid:
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass


def _stop_nsd(d, pid, timeout=15.0):
    """SIGTERM to NSD's main pid and wait: it takes ~1.6 s and its children
    exit with it. SIGKILL to the main pid alone would leave the children
    holding the port, so the last resort kills the whole session group."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap(d, pid)


def stop(d):
    """Stop what start(d) started. Safe to call twice."""
    d = os.path.abspath(d)
    try:
        with open(os.path.join(d, "server.json")) as f:
            info = json.load(f)
    except OSError:
        return
    if info.get("nsd_pid"):
        _stop_nsd(d, info["nsd_pid"])
    pid = info.get("blackhole_pid")
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _reap(d, pid)
    info["nsd_pid"] = info["blackhole_pid"] = 0
    _save(d, info)
    _procs.pop(d, None)


class DnsServer:
    """Context manager: with DnsServer(dir, zonefiles) as info: ..."""

    def __init__(self, d, zonefiles, **kw):
        self.d, self.zonefiles, self.kw = d, zonefiles, kw

    def __enter__(self):
        return start(self.d, self.zonefiles, **self.kw)

    def __exit__(self, *exc):
        stop(self.d)


def main(argv):
    if len(argv) >= 3 and argv[1] == "start":
        try:
            info = start(argv[2], argv[3:])
        except (DnsServerError, subprocess.CalledProcessError, OSError) as e:
            print("dnsserver: %s" % e, file=sys.stderr)
            return 1
        print(json.dumps(info))
        return 0
    if len(argv) == 3 and argv[1] == "stop":
        stop(argv[2])
        return 0
    print("usage: dnsserver.py start DIR ZONEFILE... | stop DIR",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
