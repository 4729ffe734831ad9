# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab/lab.py's shapes without bringing anything up: the fixed lab unchanged, `up --routers N` a chain or ring whose
ports stay inside one instance's 400-port range, and the inventory a sized lab writes."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import socket

import pytest
import yaml

from repo_paths import ROOT

ROOT_PATH = pathlib.Path(ROOT)
# GC_LAB_PORT_BASE=N, "GC_LAB_PORT_BASE": "N", lab_env("x-", N, ...), the scripts' :-N defaults
BASE_RE = re.compile(r"(?:GC_LAB_PORT_BASE[\"']?(?:=|: |, )[\"']?|GC_LAB_PORT_BASE:-|lab_env\(\"[a-z0-9]+-\", )(\d{4,5})")


def load_lab(monkeypatch, tmp_path, base=30000):
    monkeypatch.setenv("GC_LAB_PORT_BASE", str(base))
    monkeypatch.setenv("GC_LAB_RUN", str(tmp_path))
    spec = importlib.util.spec_from_file_location("lab_under_test", os.path.join(ROOT, "lab", "lab.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fixed_lab_is_the_three_routers_firewall_and_server(monkeypatch, tmp_path):
    lab = load_lab(monkeypatch, tmp_path)
    assert lab.NODES == ["r1", "r2", "r3", "fw1", "srv1"] and list(lab.ROUTERS) == ["r1", "r2", "r3"]
    assert lab.PORTS == {"r1": 30001, "r2": 30002, "r3": 30003, "fw1": 30004, "r1-host": 30011, "r2-host": 30012,
                         "r3-host": 30013}
    assert "ip route 10.0.45.0/24 10.0.34.4" in lab.router_config("r3") and lab.SIZED["routers"] == 0


def test_a_sized_chain_of_30_keeps_its_ports_in_the_instance_range(monkeypatch, tmp_path):
    lab = load_lab(monkeypatch, tmp_path)
    lab.size_lab(30)
    assert lab.NODES == ["r%d" % i for i in range(1, 31)] and len(lab.LINKS) == 29
    ports = sorted(lab.PORTS.values())
    assert len(set(ports)) == 60 and ports[0] == 30101 and ports[-1] == 30230 < 30000 + 400
    assert not set(ports) & set(range(30000, 30021))  # never the fixed lab's ports or the bastion's (base + 20)
    middle, end = lab.router_config("r2"), lab.router_config("r30")
    assert middle.count("remote-as") == 2 and end.count("remote-as") == 1 and "10.0.45.0" not in middle


def test_a_ring_links_the_last_router_back_to_the_first(monkeypatch, tmp_path):
    lab = load_lab(monkeypatch, tmp_path)
    lab.size_lab(4, ring=True)
    assert lab.LINKS[-1][0] == "r4" and lab.LINKS[-1][3] == "r1"
    assert all(lab.router_config(r).count("remote-as") == 2 for r in lab.ROUTERS)


@pytest.mark.parametrize("count,ring", [(1, False), (100, False), (2, True)])
def test_sizes_outside_the_range_are_refused(monkeypatch, tmp_path, count, ring):
    lab = load_lab(monkeypatch, tmp_path)
    with pytest.raises(lab.LabError):
        lab.size_lab(count, ring)


def test_the_sized_inventory_names_every_router_with_its_ports(monkeypatch, tmp_path):
    lab = load_lab(monkeypatch, tmp_path)
    lab.size_lab(10)
    lab.write_sized_inventory()
    with open(lab.sized_inventory_path(), encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    routers = inventory["all"]["children"]["routers"]
    assert sorted(routers["hosts"], key=lambda n: int(n[1:])) == ["r%d" % i for i in range(1, 11)]
    assert routers["hosts"]["r10"]["ansible_port"] == 30110 and routers["hosts"]["r10"]["governed_host_port"] == 30210
    assert routers["vars"]["ansible_network_os"] == "frr.frr.frr" and routers["vars"]["governed_platform"] == "frr"
    assert routers["vars"]["ansible_ssh_private_key_file"] == os.path.join(str(tmp_path), "id_ed25519")


def test_a_port_another_process_listens_on_is_refused_before_anything_is_built(monkeypatch, tmp_path):
    lab = load_lab(monkeypatch, tmp_path)
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.bind(("127.0.0.1", 0))  # a free port the kernel picks, listened on as another lab's sshd would
    other.listen(1)
    taken = other.getsockname()[1]
    try:
        with pytest.raises(lab.LabError, match=r"port\(s\) %d already in use.*GC_LAB_PORT_BASE" % taken):
            lab.check_ports_free([taken])
    finally:
        other.close()
    lab.check_ports_free([taken])  # free again: no refusal


def kernel_ports(tmp_path, port_range, reserved=""):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "ip_local_port_range").write_text(port_range + "\n")
    (proc / "ip_local_reserved_ports").write_text(reserved + "\n")
    return str(proc)


def test_ports_inside_the_ephemeral_range_are_refused_unless_reserved(monkeypatch, tmp_path):
    lab = load_lab(monkeypatch, tmp_path)
    proc = kernel_ports(tmp_path, "32768\t60999", "33601-33603,40000")
    with pytest.raises(lab.LabError, match=r"33604, 33611 are inside .* 32768-60999 .*GC_LAB_PORT_BASE below 32468"):
        lab.check_outside_ephemeral_range([33601, 33602, 33603, 33604, 33611], proc=proc)
    lab.check_outside_ephemeral_range([33601, 33602, 33603, 40000, 32767], proc=proc)  # reserved or below: accepted
    assert lab.port_set("8080,9148-9150\n") == {8080, 9148, 9149, 9150} and lab.port_set("\n") == set()


def test_every_lab_instance_of_the_suite_lies_below_this_machines_ephemeral_range():
    """The port bases the test modules, molecule and the benchmarks use: a base inside the range made an instance's
    `up` fail by chance (an outgoing connection's local port, or one in TIME_WAIT, on a lab port)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
        low = int(handle.read().split()[0])
    bases = {}
    for folder in ("tests/integration", "scripts", "benchmarks"):
        for path in sorted((ROOT_PATH / folder).rglob("*")):
            if path.suffix in (".py", ".sh"):
                for match in BASE_RE.finditer(path.read_text(encoding="utf-8")):
                    bases[int(match.group(1))] = path.name
    assert len(bases) >= 20, bases
    assert all(base + 299 < low for base in bases), {base: name for base, name in bases.items() if base + 299 >= low}
