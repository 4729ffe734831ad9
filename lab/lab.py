# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab: three FRR routers (eBGP r1-r2-r3), a Linux nftables firewall fw1 and a server srv1, each in
its own network namespace on this machine, managed over SSH on 127.0.0.1 only.

Usage (as root): python3 lab/lab.py up|down|status|wait [--timeout S] [--bastion] [--routers N [--ring]]

With --routers N (2-99) `up` builds a sized lab instead: a chain r1-r2-...-rN of FRR routers (a ring with --ring, rN
linked back to r1), eBGP between neighbours, no firewall or server; it writes <run>/inventory.yml for it and
<run>/topology.json, which `status`, `wait` and `down` read (see docs/performance.md). Without --routers the lab is the
fixed one above, unchanged.

Addresses live only on interfaces inside the lab's namespaces (and sshd on 127.0.0.1): nothing is
routed to or from the machine's own interfaces.

Host keys: `up` writes <run>/known_hosts ([127.0.0.1]:port entries for sshd's host key) and the inventory points
every SSH client at it, so the devices' identity is verified. With --bastion (or GC_LAB_BASTION=1) the devices' sshd
listens on 127.0.0.1 inside a bastion namespace only, reachable through a jump host on 127.0.0.1:<base>+20
(<run>/ssh_config names it <prefix>bastion, for ProxyJump).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
RUN = os.environ.get("GC_LAB_RUN", os.path.join(LAB_DIR, "run"))
PREFIX = os.environ.get("GC_LAB_PREFIX", "gc-")
FRR_BIN = "/usr/lib/frr"
PORT_BASE = int(os.environ.get("GC_LAB_PORT_BASE", "22200"))
BASTION = os.environ.get("GC_LAB_BASTION", "").lower() in ("1", "yes", "true")
BASTION_PORT = PORT_BASE + 20

ROUTERS = {
    "r1": {"asn": 65001, "loopback": "10.255.0.1"},
    "r2": {"asn": 65002, "loopback": "10.255.0.2"},
    "r3": {"asn": 65003, "loopback": "10.255.0.3"},
}
# (namespace a, interface a, address a, namespace b, interface b, address b)
LINKS = [
    ("r1", "eth-r2", "10.0.12.1/24", "r2", "eth-r1", "10.0.12.2/24"),
    ("r2", "eth-r3", "10.0.23.2/24", "r3", "eth-r2", "10.0.23.3/24"),
    ("r3", "eth-fw1", "10.0.34.3/24", "fw1", "eth-r3", "10.0.34.4/24"),
    ("fw1", "eth-srv1", "10.0.45.1/24", "srv1", "eth-fw1", "10.0.45.10/24"),
]
NODES = ["r1", "r2", "r3", "fw1", "srv1"]
SRV1_ADDR = "10.0.45.10"
SRV1_PORT = 8080
# SSH ports on 127.0.0.1: vtysh of each router, a host shell inside each device's namespace.
PORTS = {
    "r1": PORT_BASE + 1, "r2": PORT_BASE + 2, "r3": PORT_BASE + 3, "fw1": PORT_BASE + 4,
    "r1-host": PORT_BASE + 11, "r2-host": PORT_BASE + 12, "r3-host": PORT_BASE + 13,
}

FW1_RULESET = """flush ruleset
table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tct state established,related counter accept comment "return traffic"
\t\ticmp type echo-request counter accept comment "ping"
\t\tiifname "eth-srv1" counter accept comment "server egress"
\t\tiifname "eth-r3" oifname "eth-srv1" ip daddr 10.0.45.10 tcp dport 8080 counter accept comment "acl: web to srv1"
\t}
}
"""


# A sized lab (up --routers N): router i's vtysh on PORT_BASE + 100 + i, its host shell on PORT_BASE + 200 + i
# (inside one instance's 400-port range for N <= 99; the fixed lab uses PORT_BASE + 1..20).
SIZED_VTY_PORT, SIZED_HOST_PORT, MAX_ROUTERS = 100, 200, 99
SSHD_MAX_PORTS = 16  # OpenSSH's MAX_LISTEN_SOCKS
SIZED = {"routers": 0, "ring": False}


def topology_file():
    return os.path.join(RUN, "topology.json")


def size_lab(count, ring=False):
    """Switch this process to a sized lab of ``count`` routers in a chain (or ring): ROUTERS, LINKS, NODES, PORTS."""
    global ROUTERS, LINKS, NODES, PORTS  # pylint: disable=global-statement
    if not 2 <= count <= MAX_ROUTERS:
        raise LabError("--routers must be between 2 and %d, got %d" % (MAX_ROUTERS, count))
    if ring and count < 3:
        raise LabError("a ring needs at least 3 routers, got %d" % count)
    names = ["r%d" % i for i in range(1, count + 1)]
    ROUTERS = {name: {"asn": 65000 + i, "loopback": "10.255.0.%d" % i} for i, name in enumerate(names, 1)}
    pairs = [(i, i + 1) for i in range(1, count)] + ([(count, 1)] if ring else [])
    # link k between r_a and r_b: 10.1.k.0/24, .a on r_a and .b on r_b (distinct addresses, never a broadcast)
    LINKS = [("r%d" % a, "eth-r%d" % b, "10.1.%d.%d/24" % (k, a), "r%d" % b, "eth-r%d" % a, "10.1.%d.%d/24" % (k, b))
             for k, (a, b) in enumerate(pairs, 1)]
    NODES = list(names)
    PORTS = {}
    for i, name in enumerate(names, 1):
        PORTS[name] = PORT_BASE + SIZED_VTY_PORT + i
        PORTS[name + "-host"] = PORT_BASE + SIZED_HOST_PORT + i
    SIZED.update(routers=count, ring=bool(ring))


def load_topology():
    """A sized lab's shape from <run>/topology.json (written by `up --routers N`); the fixed lab when there is none."""
    try:
        with open(topology_file(), encoding="utf-8") as handle:
            shape = json.load(handle)
    except (OSError, ValueError):
        return
    if shape.get("routers"):
        size_lab(int(shape["routers"]), bool(shape.get("ring")))


class LabError(Exception):
    """A lab step failed; the message says which and what to do."""


def run(cmd, check=True, quiet=False, **kwargs):
    """Run a command (list), raising LabError with its stderr on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise LabError("command failed (%d): %s\n%s" % (proc.returncode, " ".join(cmd), proc.stderr.strip()))
    if not quiet and proc.returncode != 0:
        sys.stderr.write(proc.stderr)
    return proc


def ns(node):
    return PREFIX + node


def nsexec(node, *cmd, check=True):
    return run(["ip", "netns", "exec", ns(node)] + list(cmd), check=check)


def router_dir(name):
    return os.path.join(RUN, name)


def router_config(name):
    """The router's startup frr.conf: eBGP to its neighbours in the line, announcing its loopback and links."""
    spec = ROUTERS[name]
    lines = [
        "frr version 8.4.4",
        "frr defaults traditional",
        "hostname %s" % name,
        "service integrated-vtysh-config",
        "!",
    ]
    if name == "r3" and "fw1" in NODES:
        lines += ["ip route 10.0.45.0/24 10.0.34.4", "!"]
    lines += [
        "router bgp %d" % spec["asn"],
        " bgp router-id %s" % spec["loopback"],
        " no bgp ebgp-requires-policy",
        " timers bgp 1 3",
    ]
    peers = []
    for a, _ia, _aa, b, _ib, addr_b in LINKS:
        if a == name and b in ROUTERS:
            peers.append((addr_b.split("/", maxsplit=1)[0], ROUTERS[b]["asn"]))
        elif b == name and a in ROUTERS:
            peers.append((_aa.split("/", maxsplit=1)[0], ROUTERS[a]["asn"]))
    for addr, asn in sorted(peers):
        lines += [
            " neighbor %s remote-as %d" % (addr, asn),
            " neighbor %s timers connect 1" % addr,
            " neighbor %s advertisement-interval 0" % addr,
        ]
    lines += [" !", " address-family ipv4 unicast", "  network %s/32" % spec["loopback"]]
    for a, _ia, addr_a, b, _ib, addr_b in LINKS:
        if name in (a, b):
            addr = addr_a if a == name else addr_b
            lines.append("  network %s" % network_of(addr))
    if name == "r3" and "fw1" in NODES:
        lines.append("  network 10.0.45.0/24")
    lines += [" exit-address-family", "exit", "!", "end", ""]
    return "\n".join(lines)


def network_of(cidr):
    addr, plen = cidr.split("/")
    octets = [int(o) for o in addr.split(".")]
    value = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
    mask = (0xFFFFFFFF << (32 - int(plen))) & 0xFFFFFFFF
    value &= mask
    return "%d.%d.%d.%d/%s" % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255, plen)


def write(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


# ----------------------------------------------------------------------------------------------- teardown
def our_namespaces():
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def read_pid(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def down(verbose=True):
    """Stop every process the lab started (by PID), delete its namespaces; safe when nothing is up."""
    start = time.time()
    pids = set()
    for name in our_namespaces():
        out = run(["ip", "netns", "pids", name], check=False).stdout
        pids.update(int(p) for p in out.split() if p.isdigit())
    for pidfile in sshd_pidfiles():
        sshd_pid = read_pid(pidfile)
        if sshd_pid and _is_lab_sshd(sshd_pid):
            pids.add(sshd_pid)
    relay_pid = read_pid(os.path.join(RUN, "bastion-relay.pid"))
    if relay_pid and _is_lab_process(relay_pid, "bastion-relay"):
        pids.add(relay_pid)
    pids.update(_daemons_of_this_run())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + 5
    while time.time() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for name in our_namespaces():
        run(["ip", "netns", "delete", name], check=False)
    shutil.rmtree(RUN, ignore_errors=True)
    if verbose:
        print("lab down: %d processes stopped, namespaces removed in %.2f s" % (len(pids), time.time() - start))


def sshd_pidfiles():
    """sshd.pid, and sshd-2.pid... of a sized lab's further sshd processes."""
    try:
        names = os.listdir(RUN)
    except OSError:
        return []
    return [os.path.join(RUN, name) for name in sorted(names) if name.startswith("sshd") and name.endswith(".pid")]


def _is_lab_sshd(pid):
    return _is_lab_process(pid, "sshd")


def _daemons_of_this_run():
    """FRR daemons whose command line names this lab's run folder (``--vty_socket RUN/<router>``), even when their
    namespace is already gone (a namespace deleted under them leaves them running, invisible to ``ip netns pids``)."""
    found = set()
    marker = "--vty_socket\0%s/" % RUN
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith(FRR_BIN + "/") and marker in cmdline:
            found.add(int(entry))
    return found


def _is_lab_process(pid, word):
    """True when the PID is still this lab's process (its command line names ``word`` and the run folder)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().decode(errors="replace")
    except OSError:
        return False
    return word in cmdline and RUN in cmdline


# ----------------------------------------------------------------------------------------------- bring-up
def check_prereqs():
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces). Run it as root: sudo make demo")
    for path in (FRR_BIN + "/zebra", FRR_BIN + "/bgpd", FRR_BIN + "/staticd", "/usr/bin/vtysh", "/usr/sbin/sshd",
                 "/usr/sbin/nft"):
        if not os.path.exists(path):
            raise LabError("%s is missing. Run `make setup` (installs frr, openssh-server, nftables)." % path)


def up():
    start = time.time()
    check_prereqs()
    down(verbose=False)  # clear leftovers of a crashed run first
    # The machine's loopback ports the instance listens on: the devices' sshd ports, or with a bastion only its port.
    check_outside_ephemeral_range(sorted(PORTS.values()) if not BASTION else [BASTION_PORT])
    if not BASTION:  # sshd on the machine's loopback: another lab instance (or any service) may hold a port already
        check_ports_free(sorted(PORTS.values()))
    os.makedirs(RUN, mode=0o755)
    for node in NODES:
        run(["ip", "netns", "add", ns(node)])
        nsexec(node, "ip", "link", "set", "lo", "up")
        nsexec(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        nsexec(node, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    for a, ia, addr_a, b, ib, addr_b in LINKS:
        tmp_a, tmp_b = "%sv%s%s" % (PREFIX[:2], a, b), "%sv%s%s" % (PREFIX[:2], b, a)
        run(["ip", "link", "add", tmp_a[:15], "netns", ns(a), "type", "veth", "peer", "name", tmp_b[:15], "netns", ns(b)])
        nsexec(a, "ip", "link", "set", tmp_a[:15], "name", ia)
        nsexec(b, "ip", "link", "set", tmp_b[:15], "name", ib)
        nsexec(a, "ip", "addr", "add", addr_a, "dev", ia)
        nsexec(b, "ip", "addr", "add", addr_b, "dev", ib)
        nsexec(a, "ip", "link", "set", ia, "up")
        nsexec(b, "ip", "link", "set", ib, "up")
    for name, spec in ROUTERS.items():
        nsexec(name, "ip", "addr", "add", spec["loopback"] + "/32", "dev", "lo")
    if BASTION:
        run(["ip", "netns", "add", ns("bastion")])
        nsexec("bastion", "ip", "link", "set", "lo", "up")
    if "fw1" in NODES:
        start_edge()
    for name in ROUTERS:
        start_router(name)
    start_sshd()
    if BASTION:
        start_bastion()
    write_known_hosts()
    if SIZED["routers"]:
        write(topology_file(), json.dumps(SIZED) + "\n")
        write_sized_inventory()
    print("lab up in %.2f s (BGP converging; `lab.py wait` waits for it)%s%s" % (
        time.time() - start, "; devices only through the bastion on 127.0.0.1:%d" % BASTION_PORT if BASTION else "",
        "; %d routers in a %s, inventory %s" % (SIZED["routers"], "ring" if SIZED["ring"] else "chain", sized_inventory_path())
        if SIZED["routers"] else ""))


def start_edge():
    """The fixed lab's edge: fw1 (nftables) and srv1 (a web server) behind r3."""
    nsexec("fw1", "ip", "route", "add", "default", "via", "10.0.34.3")
    nsexec("srv1", "ip", "route", "add", "default", "via", "10.0.45.1")
    fw_rules = os.path.join(RUN, "fw1.nft")
    write(fw_rules, FW1_RULESET)
    nsexec("fw1", "nft", "-f", fw_rules)
    start_server()
    for node in ("fw1", "srv1"):
        start_holder(node)


def sized_inventory_path():
    return os.path.join(RUN, "inventory.yml")


def write_sized_inventory():
    """<run>/inventory.yml: the sized lab's routers as the fixed lab's inventory has them (same group variables; sites
    alternate lon/ams, every router an edge of medium criticality), with this instance's ports and files written out."""
    key, known = os.path.join(RUN, "id_ed25519"), os.path.join(RUN, "known_hosts")
    lines = [
        "---",
        "# Written by lab/lab.py up --routers %d%s: do not edit (the next `up` rewrites it)." % (
            SIZED["routers"], " --ring" if SIZED["ring"] else ""),
        "all:",
        "  children:",
        "    routers:",
        "      vars:",
        "        ansible_host: 127.0.0.1",
        "        ansible_user: root",
        "        ansible_ssh_private_key_file: %s" % key,
        "        ansible_ssh_common_args: -o UserKnownHostsFile=%s -o LogLevel=ERROR" % known,
        "        ansible_libssh_host_key_checking: false",
        "        ansible_connection: ansible.netcommon.network_cli",
        "        ansible_network_os: frr.frr.frr",
        "        governed_platform: frr",
        "      hosts:",
    ]
    for i, (name, spec) in enumerate(ROUTERS.items(), 1):
        lines += [
            "        %s:" % name,
            "          ansible_port: %d" % PORTS[name],
            "          governed_host_port: %d" % PORTS[name + "-host"],
            "          site: %s" % ("lon" if i % 2 else "ams"),
            "          role: edge",
            "          criticality: medium",
            "          bgp_asn: %d" % spec["asn"],
            "          loopback: %s" % spec["loopback"],
        ]
    write(sized_inventory_path(), "\n".join(lines) + "\n")


def start_router(name):
    rdir = router_dir(name)
    os.makedirs(rdir, mode=0o755)
    write(os.path.join(rdir, "frr.conf"), router_config(name))
    write(os.path.join(rdir, "vtysh.conf"), "service integrated-vtysh-config\n")
    # FRR drops privileges to frr:frr (its vty group is frrvty); the router's folder must be theirs.
    shutil.chown(rdir, "frr", "frr")
    common = "-d -u frr -g frr --vty_socket {d} -z {d}/zserv.api -P 0".format(d=rdir)
    script = " && ".join([
        "hostname %s" % name,
        "{b}/zebra {c} -i {d}/zebra.pid --log file:{d}/zebra.log".format(b=FRR_BIN, c=common, d=rdir),
        "{b}/bgpd {c} -i {d}/bgpd.pid --log file:{d}/bgpd.log".format(b=FRR_BIN, c=common, d=rdir),
        "{b}/staticd {c} -i {d}/staticd.pid --log file:{d}/staticd.log".format(b=FRR_BIN, c=common, d=rdir),
    ])
    nsexec(name, "unshare", "--uts", "sh", "-c", script)
    for _attempt in range(100):
        if all(os.path.exists(os.path.join(rdir, d + ".vty")) for d in ("zebra", "bgpd", "staticd")):
            break
        time.sleep(0.05)
    run(["vtysh", "--vty_socket", rdir, "--config_dir", rdir, "-b"])


def holder_pidfile(node):
    """PID file of the process whose namespaces are the device's (zebra for routers, a holder otherwise)."""
    if node in ROUTERS:
        return os.path.join(router_dir(node), "zebra.pid")
    return os.path.join(RUN, "%s.holder.pid" % node)


def start_holder(node):
    """A sleeping process owning the host's private UTS namespace, so it has its own hostname."""
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        ["ip", "netns", "exec", ns(node), "unshare", "--uts", "sh", "-c", "hostname %s && exec sleep infinity" % node],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    write(holder_pidfile(node), "%d\n" % proc.pid)


def start_server():
    sdir = os.path.join(RUN, "srv1")
    os.makedirs(sdir)
    write(os.path.join(sdir, "index.html"), "srv1 ok\n")
    log = open(os.path.join(RUN, "srv1.log"), "w", encoding="utf-8")  # pylint: disable=consider-using-with
    subprocess.Popen(  # pylint: disable=consider-using-with
        ["ip", "netns", "exec", ns("srv1"), sys.executable, "-m", "http.server", str(SRV1_PORT),
         "--bind", SRV1_ADDR, "--directory", sdir],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def start_sshd():
    keyfile = os.path.join(RUN, "id_ed25519")
    hostkey = os.path.join(RUN, "ssh_host_ed25519_key")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "governed-change-lab", "-f", keyfile])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey])
    shutil.copy(keyfile + ".pub", os.path.join(RUN, "authorized_keys"))
    os.makedirs("/run/sshd", exist_ok=True)
    # sshd runs a login's ForceCommand with the user's shell; bash started by sshd reads ~/.bashrc even when not
    # interactive, and a controller's root .bashrc may do slow or locking work (pyenv init runs `pyenv rehash`, which
    # waits up to 60 s on a stale lock). Device logins get the lab's own, empty home instead.
    home = os.path.join(RUN, "home")
    os.makedirs(home, mode=0o755, exist_ok=True)
    write(os.path.join(home, ".bashrc"), "# governed.change lab: device logins read nothing from the controller's root\n")
    conf = [
        "SetEnv HOME=%s" % home,
        "ListenAddress 127.0.0.1",
        "HostKey %s" % hostkey,
        "PidFile %s" % os.path.join(RUN, "sshd.pid"),
        "AuthorizedKeysFile %s" % os.path.join(RUN, "authorized_keys"),
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PrintMotd no",
        "PrintLastLog no",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp internal-sftp",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
    ]
    conf += ["Port %d" % port for port in sorted(PORTS.values())]
    for device, port in sorted(PORTS.items()):
        login = os.path.join(RUN, "login-%s.sh" % device)
        node = device.replace("-host", "")
        # Enter the device's own UTS and network namespaces (the PID of its first daemon or holder).
        enter = "nsenter -t $(cat %s) -u -n" % holder_pidfile(node)
        if device in ROUTERS:
            # vtysh of this router: an interactive CLI for network_cli, or one command for `ssh ... 'show ...'`.
            body = ('if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec {x} vtysh --vty_socket {d} -c "$SSH_ORIGINAL_COMMAND"; fi\n'
                    'exec {x} vtysh --vty_socket {d}\n').format(x=enter, d=router_dir(node))
        else:
            # A shell inside the device (Ansible's ssh connection runs its commands here).
            env = "FRR_VTY_DIR=%s " % router_dir(node) if node in ROUTERS else ""
            body = ('if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec {x} env {e}/bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi\n'
                    'exec {x} env {e}/bin/bash -l\n').format(x=enter, e=env)
        write(login, "#!/bin/sh\n" + body, 0o755)
        conf += ["Match LocalPort %d" % port, "    ForceCommand %s" % login]
    # sshd listens on at most 16 sockets (MAX_LISTEN_SOCKS): a sized lab runs one sshd per 16 ports (sshd-2_config,
    # sshd-2.pid...), each with every Match block; the fixed lab's 7 ports keep the one sshd (sshd_config, sshd.pid).
    ports = sorted(PORTS.values())
    for first in range(0, len(ports), SSHD_MAX_PORTS):
        suffix = "" if not first else "-%d" % (first // SSHD_MAX_PORTS + 1)
        pidfile = os.path.join(RUN, "sshd%s.pid" % suffix)
        mine = ["PidFile %s" % pidfile if line.startswith("PidFile ") else line for line in conf
                if not line.startswith("Port ")]
        mine[1:1] = ["Port %d" % port for port in ports[first:first + SSHD_MAX_PORTS]]
        sshd_conf = os.path.join(RUN, "sshd%s_config" % suffix)
        write(sshd_conf, "\n".join(mine) + "\n")
        # With a bastion, the devices' sshd lives in the bastion's namespace: its 127.0.0.1 is not the machine's.
        inside = ["ip", "netns", "exec", ns("bastion")] if BASTION else []
        run(inside + ["/usr/sbin/sshd", "-f", sshd_conf, "-E", os.path.join(RUN, "sshd%s.log" % suffix)])
        for _attempt in range(100):
            if read_pid(pidfile):
                break
            time.sleep(0.05)
        else:
            raise LabError("sshd did not start; see %s/sshd%s.log" % (RUN, suffix))
        # sshd keeps running when only some of its ports could be bound (another process took one in between)
        with open(os.path.join(RUN, "sshd%s.log" % suffix), encoding="utf-8", errors="replace") as handle:
            failed = [line.strip() for line in handle if "Bind to port" in line and "failed" in line]
        if failed:
            raise LabError("sshd could not listen on every lab port (%s); set GC_LAB_PORT_BASE to a free range "
                           "(lab instances 400 ports apart)" % "; ".join(failed))


def port_set(text):
    """The ports of a kernel port list such as net.ipv4.ip_local_reserved_ports ("8080,9148-9150"; empty: none)."""
    ports = set()
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if part:
            low, _sep, high = part.partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    return ports


def check_outside_ephemeral_range(ports, proc="/proc/sys/net/ipv4"):
    """Refuse lab ports inside the kernel's ephemeral range (net.ipv4.ip_local_port_range) unless reserved
    (net.ipv4.ip_local_reserved_ports): the local end of any outgoing connection of this machine - an SSH session to
    another lab instance, a database client - takes a port of that range, and keeps it for a minute in TIME_WAIT
    after closing. A lab port taken so cannot be listened on (EADDRINUSE even with SO_REUSEADDR), so an instance
    there comes up, or not, by chance."""
    try:
        with open(os.path.join(proc, "ip_local_port_range"), encoding="ascii") as handle:
            low, high = (int(word) for word in handle.read().split()[:2])
        with open(os.path.join(proc, "ip_local_reserved_ports"), encoding="ascii") as handle:
            reserved = port_set(handle.read())
    except (OSError, ValueError):
        return  # no such kernel setting to read: nothing to check against
    inside = [port for port in ports if low <= port <= high and port not in reserved]
    if inside:
        raise LabError("lab port(s) %s are inside this machine's ephemeral port range %d-%d "
                       "(net.ipv4.ip_local_port_range), where outgoing connections take their local ports: set "
                       "GC_LAB_PORT_BASE below %d (or reserve the ports in net.ipv4.ip_local_reserved_ports)"
                       % (", ".join(str(port) for port in inside[:5]) + (" ..." if len(inside) > 5 else ""),
                          low, high, low - 300))


def check_ports_free(ports):
    """Refuse to start when a lab SSH port on 127.0.0.1 is already listened on: sshd would serve the other ports and
    the clients of the taken one would reach another lab's devices (a host key mismatch much later)."""
    taken = []
    for port in ports:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as sshd does: a closing connection is no obstacle
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            taken.append(port)
        finally:
            probe.close()
    if taken:
        raise LabError("127.0.0.1 port(s) %s already in use (another lab instance?); set GC_LAB_PORT_BASE to a free "
                       "range: an instance uses PORT_BASE+1..+20, a sized one up to PORT_BASE+299 (keep instances 400 "
                       "ports apart)" % ", ".join(str(port) for port in taken))


def write_known_hosts():
    """<run>/known_hosts: the host key of every SSH port the lab serves, as [127.0.0.1]:port entries."""
    entries = []
    keys = [(os.path.join(RUN, "ssh_host_ed25519_key.pub"), sorted(PORTS.values()))]
    if BASTION:
        keys.append((os.path.join(RUN, "bastion", "ssh_host_ed25519_key.pub"), [BASTION_PORT]))
    for pubfile, ports in keys:
        with open(pubfile, encoding="utf-8") as handle:
            kind, blob = handle.read().split()[:2]
        entries += ["[127.0.0.1]:%d %s %s" % (port, kind, blob) for port in ports]
    write(os.path.join(RUN, "known_hosts"), "\n".join(entries) + "\n")


def start_bastion():
    """A jump host on 127.0.0.1:BASTION_PORT: each connection gets its own `sshd -i` inside the bastion namespace,
    which may only forward to that namespace's 127.0.0.1 (where the devices' sshd listens)."""
    bdir = os.path.join(RUN, "bastion")
    os.makedirs(bdir, mode=0o755)
    hostkey = os.path.join(bdir, "ssh_host_ed25519_key")
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey])
    conf = [
        "HostKey %s" % hostkey,
        "PidFile none",
        "AuthorizedKeysFile %s" % os.path.join(RUN, "authorized_keys"),
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "AllowTcpForwarding local",
        "PermitOpen 127.0.0.1:*",
        "AllowAgentForwarding no",
        "X11Forwarding no",
        "PermitTTY no",
        "ForceCommand /bin/echo bastion: port forwarding only",
    ]
    write(os.path.join(bdir, "sshd_config"), "\n".join(conf) + "\n")
    write(os.path.join(RUN, "ssh_config"), "\n".join([
        "# The lab's jump host (lab.py up --bastion): ssh -F %s -J %s -p PORT root@127.0.0.1" % (os.path.join(RUN, "ssh_config"), ns("bastion")),
        "Host %s" % ns("bastion"),
        "    HostName 127.0.0.1",
        "    Port %d" % BASTION_PORT,
        "    User root",
        "    IdentityFile %s" % os.path.join(RUN, "id_ed25519"),
        "    IdentitiesOnly yes",
        "    UserKnownHostsFile %s" % os.path.join(RUN, "known_hosts"),
        "    StrictHostKeyChecking yes",
        "    BatchMode yes",
        "    LogLevel ERROR",
    ]) + "\n")
    # The listening socket is bound here (the machine's loopback) before `up` returns, then handed to the relay.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", BASTION_PORT))
    except OSError as exc:
        listener.close()
        raise LabError("the bastion port 127.0.0.1:%d is taken (%s); set GC_LAB_PORT_BASE to a free range" % (BASTION_PORT, exc))
    listener.listen(64)
    log = open(os.path.join(RUN, "bastion-relay.log"), "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, os.path.abspath(__file__), "bastion-relay", "--fd", str(listener.fileno()), "--run", RUN],
        pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    listener.close()
    log.close()
    write(os.path.join(RUN, "bastion-relay.pid"), "%d\n" % proc.pid)


def bastion_relay(fd):
    """The bastion's front door (runs until killed): every accepted connection is served by `sshd -i` in the bastion."""
    listener = socket.socket(fileno=fd)
    conf = os.path.join(RUN, "bastion", "sshd_config")
    log = os.path.join(RUN, "bastion", "sshd.log")
    children = []
    while True:
        conn, _peer = listener.accept()
        with conn:
            conn.setblocking(True)
            children.append(subprocess.Popen(  # pylint: disable=consider-using-with
                ["ip", "netns", "exec", ns("bastion"), "/usr/sbin/sshd", "-i", "-f", conf, "-E", log],
                stdin=conn, stdout=conn, stderr=subprocess.DEVNULL))
        children = [child for child in children if child.poll() is None]


# ----------------------------------------------------------------------------------------------- status
def bgp_summary(name):
    proc = run(["vtysh", "--vty_socket", router_dir(name), "-c", "show bgp ipv4 unicast summary json"], check=False)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout).get("peers", {})
    except ValueError:
        return None


def srv1_reachable_from(node):
    probe = ("import socket,sys\ntry:\n s=socket.create_connection(('%s',%d),timeout=1)\n"
             " s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n ok=b'200' in s.recv(64)\nexcept OSError:\n ok=False\n"
             "sys.exit(0 if ok else 1)" % (SRV1_ADDR, SRV1_PORT))
    return nsexec(node, sys.executable, "-c", probe, check=False).returncode == 0


def status(as_json=False):
    result = {"namespaces": our_namespaces(), "routers": {}, "sshd": False, "srv1_from_r1": False}
    pid = read_pid(os.path.join(RUN, "sshd.pid"))
    result["sshd"] = bool(pid and pid_alive(pid))
    for name in ROUTERS:
        peers = bgp_summary(name) if ns(name) in result["namespaces"] else None
        result["routers"][name] = None if peers is None else {
            addr: {"state": p.get("state"), "pfxRcd": p.get("pfxRcd")} for addr, p in peers.items()}
    if ns("r1") in result["namespaces"] and "srv1" in NODES:
        result["srv1_from_r1"] = srv1_reachable_from("r1")
    result["ports"] = PORTS
    relay = read_pid(os.path.join(RUN, "bastion-relay.pid"))
    result["bastion"] = BASTION_PORT if relay and pid_alive(relay) else None
    result["sized"] = dict(SIZED, inventory=sized_inventory_path()) if SIZED["routers"] else None
    result["up"] = bool(result["namespaces"])
    result["converged"] = converged(result)
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print("namespaces: %s" % (" ".join(result["namespaces"]) or "none"))
        print("sshd on 127.0.0.1: %s" % ("up" if result["sshd"] else "down"))
        for name, peers in result["routers"].items():
            if peers is None:
                print("%s: down" % name)
            else:
                print("%s: %s" % (name, ", ".join("%s %s (%s pfx)" % (a, p["state"], p["pfxRcd"]) for a, p in sorted(peers.items()))))
        print("srv1:%d reachable from r1: %s" % (SRV1_PORT, result["srv1_from_r1"]))
        print("converged: %s" % result["converged"])
    return result


def converged(result):
    routers = result["routers"]
    if not routers or any(p is None or not p for p in routers.values()):
        return False
    established = all(p["state"] == "Established" for peers in routers.values() for p in peers.values())
    return established and (result["srv1_from_r1"] or "srv1" not in NODES)


def wait(timeout):
    start = time.time()
    while time.time() - start < timeout:
        res = {"namespaces": our_namespaces(), "routers": {n: None for n in ROUTERS}}
        for name in ROUTERS:
            peers = bgp_summary(name)
            res["routers"][name] = None if peers is None else {a: {"state": p.get("state")} for a, p in peers.items()}
        res["srv1_from_r1"] = all(
            p and all(x["state"] == "Established" for x in p.values()) for p in res["routers"].values()
        ) and "srv1" in NODES and srv1_reachable_from("r1")
        if converged(res):
            print("lab converged in %.2f s (all BGP sessions Established%s)" % (
                time.time() - start, ", srv1 reachable from r1" if "srv1" in NODES else ", %d routers" % len(ROUTERS)))
            return True
        time.sleep(0.25)
    raise LabError("the lab did not converge within %d s; see `lab.py status` and %s/*/bgpd.log" % (timeout, RUN))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["up", "down", "status", "wait", "bastion-relay"])
    parser.add_argument("--timeout", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--bastion", action="store_true", help="devices reachable only through a jump host (as GC_LAB_BASTION=1)")
    parser.add_argument("--routers", type=int, help="up: a sized lab of N FRR routers in a chain (2-%d), no firewall or server" % MAX_ROUTERS)
    parser.add_argument("--ring", action="store_true", help="up --routers N: a ring (rN linked back to r1) instead of a chain")
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global BASTION  # pylint: disable=global-statement
    BASTION = BASTION or args.bastion
    try:
        if args.command == "up" and args.routers:
            size_lab(args.routers, args.ring)
        elif args.ring:
            raise LabError("--ring needs up --routers N")
        elif args.command != "up":
            load_topology()
        if args.command == "bastion-relay":
            bastion_relay(args.fd)
        elif args.command == "up":
            try:
                up()
            except BaseException:
                down(verbose=False)  # never leave a half-built lab behind
                raise
        elif args.command == "down":
            down()
        elif args.command == "status":
            status(as_json=args.json)
        elif args.command == "wait":
            wait(args.timeout)
    except LabError as exc:
        sys.stderr.write("lab: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
