# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""traffic.py's named rules: the service catalogue's rules one by one, and the probe rules of a firewall change."""

from __future__ import annotations

import pytest

from ansible_collections.governed.change.plugins.module_utils import traffic
from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError

WEB = {"name": "web", "address": "10.0.45.10", "port": 8080, "protocol": "tcp", "from": "r3"}


def refusal(entry):
    with pytest.raises(ValidationError) as info:
        traffic.validate_services([entry])
    return info.value


@pytest.mark.parametrize("change, where, words", [
    ({"colour": "red"}, "services[0].colour", "is not a service key."),
    ({"from": ""}, "services[0].from", "is missing."),
    ({"name": "Web!"}, "services[0].name", "'Web!' is not a service name."),
    ({"address": "10.0.45.300"}, "services[0].address", "'10.0.45.300' is not an IP address."),
    ({"protocol": "udp"}, "services[0].protocol", "'udp' is not a protocol the probes speak."),
    ({"port": 0}, "services[0].port", "a tcp service needs a port from 1 to 65535, got 0."),
    ({"port": True}, "services[0].port", "a tcp service needs a port from 1 to 65535, got True."),
    ({"protocol": "icmp"}, "services[0].port", "an icmp service has no port."),
    ({"from": "-r3"}, "services[0].from", "'-r3' is not an inventory host name."),
    ({"reachable": "no"}, "services[0].reachable", "must be true or false, got 'no'."),
    ({"via": []}, "services[0].via", "must be a non-empty list of inventory hosts"),
])
def test_each_service_rule_refuses_with_its_field(change, where, words):
    error = refusal(dict(WEB, **change))
    assert error.where == where and words in error.problem


def test_the_first_broken_service_rule_is_reported():
    # a bad name and a bad address: the name rule comes first; a bad address and a bad protocol: the address
    assert refusal(dict(WEB, name="Web!", address="x")).where == "services[0].name"
    assert refusal(dict(WEB, address="x", protocol="udp")).where == "services[0].address"


def test_service_normalized_and_names_unique():
    dns = {"name": "dns", "address": "fd00::0001", "protocol": "icmp", "from": "r1", "reachable": False}
    out = traffic.validate_services([dict(WEB, via=["fw2", "fw1", "fw2"]), dns])
    assert out[0] == {"name": "web", "address": "10.0.45.10", "protocol": "tcp", "from": "r3", "reachable": True,
                      "description": "", "port": 8080, "via": ["fw1", "fw2"]}
    assert out[1]["address"] == "fd00::1" and "port" not in out[1] and out[1]["reachable"] is False
    with pytest.raises(ValidationError, match="service 'web' is listed twice"):
        traffic.validate_services([WEB, WEB])


def test_a_caller_fail_function_receives_the_refusal():
    seen = []

    def fail(where, problem, fix):
        seen.append(where)
        raise RuntimeError(problem)

    with pytest.raises(RuntimeError, match="is not a service key"):
        traffic.validate_services([dict(WEB, colour="red")], where="policy.services", fail=fail)
    assert seen == ["policy.services[0].colour"]


def test_vantage_rule_same_address_first_then_the_subnet():
    services = traffic.validate_services([WEB, dict(WEB, name="web2", address="10.0.45.11", **{"from": "r1"})])
    assert traffic._vantage(services, "10.0.45.11") == ["r1"]
    assert traffic._vantage(services, "10.0.45.99") == ["r1", "r3"]
    assert traffic._vantage(services, "10.0.46.1") == []


def test_rule_probes_dedupe_and_list_what_cannot_be_probed():
    services = traffic.validate_services([WEB])
    plan = {"unprobed": [], "rule_probes": []}
    lines = ("ip daddr 10.0.45.10 tcp dport 8080 drop", "ip daddr 10.0.45.10 tcp dport 9090 accept",
             "ip daddr 10.0.45.0/24 tcp dport 22 drop", "ip daddr 10.9.9.9 tcp dport 22 drop")
    rules = [traffic.parse_rule(line) for line in lines]
    keys = {("tcp", "10.0.45.10", 8080, "r3")}  # the catalogue probe of web already covers the first rule
    probes = traffic._rule_probes(plan, "fw1", services, rules, keys)
    assert [p["name"] for p in probes] == ["rule tcp 10.0.45.10:9090 from r3"]
    assert plan["rule_probes"] == [{"name": "rule tcp 10.0.45.10:9090 from r3", "via": "fw1", "rule": rules[1]["line"]}]
    assert [item["rule"] for item in plan["unprobed"]] == [rules[2]["line"], rules[3]["line"]]
    assert plan["unprobed"][0]["reason"].startswith("names a subnet, a range or a named set")
    assert plan["unprobed"][1]["reason"].startswith("no vantage point for 10.9.9.9")


def test_service_probes_honour_via_and_note_the_matching_rules():
    services = traffic.validate_services([dict(WEB, via=["fw2"]), dict(WEB, name="web_any")])
    plan = {"services": []}
    rule = traffic.parse_rule("ip daddr 10.0.45.10 tcp dport 8080 drop")
    probes, keys = traffic._service_probes(plan, "fw1", services, [rule])
    assert [p["name"] for p in probes] == ["web_any"] and keys == {("tcp", "10.0.45.10", 8080, "r3")}
    assert plan["services"][0]["touched_by"] == [rule["line"]] and plan["services"][0]["probe"] == "tcp 10.0.45.10:8080"


def test_intended_and_inventory_rules_refuse():
    with pytest.raises(ValidationError) as info:
        traffic._intended_in_catalogue_rule({"services_blocked": ["web", "mail"]}, {"web"}, "change request")
    assert info.value.where == "change request: intended.services_blocked[1]"
    traffic._vantage_in_inventory_rule([{"name": "web", "from": "r3"}], ["r3"])
    with pytest.raises(ValidationError, match="the probe runs from 'r3', which is not in the inventory"):
        traffic._vantage_in_inventory_rule([{"name": "web", "from": "r3"}], ["r1"])


def test_firewall_rules_keep_only_the_lines_with_a_verdict():
    rules = traffic._firewall_rules({"fw1": ["table inet filter {", "ip daddr 10.0.45.10 tcp dport 80 drop", "counter"],
                                     "r1": ["ip route 0.0.0.0/0 10.0.0.1"]}, ["fw1"])
    assert list(rules) == ["fw1"] and [rule["verdict"] for rule in rules["fw1"]] == ["drop"]
