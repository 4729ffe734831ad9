# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic checks of firewall changes: the service catalogue, probe derivation from the policy and the change's nft rules,
the assessment and runbook that show them, and the pre/post verdict (the linux no-regression check probes_still_pass)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.governed.change.plugins.module_utils import traffic
from ansible_collections.governed.change.plugins.module_utils.assess import assess
from ansible_collections.governed.change.plugins.module_utils.change_request import validate_change_request
from ansible_collections.governed.change.plugins.module_utils.checks import no_regression_checks, run_checks
from ansible_collections.governed.change.plugins.module_utils.errors import PolicyError, ValidationError
from ansible_collections.governed.change.plugins.module_utils.policy import load_policy, validate_policy
from ansible_collections.governed.change.plugins.module_utils.runbook import build_runbook, render_markdown

from assess_support import INVENTORY, NFT_FW1, NOW, POLICY_FILE, example

WEB = {"name": "srv1_web", "address": "10.0.45.10", "port": 8080, "protocol": "tcp", "from": "r3", "via": ["fw1"]}
HOSTS = ("r1", "r2", "r3", "fw1")
BLOCK = "insert rule inet filter forward ip daddr 10.0.45.0/24 tcp dport 8000-8100 counter drop comment \"block web\""


@pytest.fixture(scope="module")
def lab_policy():
    return load_policy(POLICY_FILE)


def lab_inventory():
    inventory = copy.deepcopy(INVENTORY)
    inventory["hosts"]["fw1"]["vars"]["governed_platform"] = "linux"
    for host in ("r1", "r2", "r3"):
        inventory["hosts"][host]["vars"]["governed_platform"] = "frr"
    return inventory


def plan(lines, services=None, intended=None, hosts=HOSTS):
    catalogue = traffic.validate_services([WEB] if services is None else services)
    return traffic.traffic_plan(catalogue, {"fw1": lines}, {"fw1": "linux"}, hosts, intended)


# ------------------------------------------------------------------------------------------------ catalogue


def test_example_policy_catalogue_holds_srv1_web(lab_policy):
    assert lab_policy["services"] == [{"name": "srv1_web", "address": "10.0.45.10", "protocol": "tcp", "port": 8080, "from": "r3",
                                       "reachable": True, "via": ["fw1"],
                                       "description": "srv1's web service, reached from r3's side through fw1"}]


@pytest.mark.parametrize("entry, where, words", [
    ({"name": "web", "address": "10.0.45.10", "protocol": "tcp", "from": "r3"}, "services[0].port", "needs a port"),
    ({"name": "web", "address": "10.0.45.999", "port": 80, "protocol": "tcp", "from": "r3"}, "services[0].address", "not an IP"),
    ({"name": "web", "address": "10.0.45.10", "port": 53, "protocol": "udp", "from": "r3"}, "services[0].protocol", "udp cannot"),
    ({"name": "web", "address": "10.0.45.10", "port": 80, "protocol": "tcp"}, "services[0].from", "is missing"),
    ({"name": "web", "address": "10.0.45.10", "port": 80, "protocol": "tcp", "from": "r3", "reachable": "yes"},
     "services[0].reachable", "true or false"),
    ({"name": "web", "address": "10.0.45.10", "port": 80, "protocol": "tcp", "from": "r3", "via": []}, "services[0].via", "non-empty"),
    ({"name": "web", "address": "10.0.45.10", "port": 80, "protocol": "tcp", "from": "r3", "zone": "dmz"}, "services[0].zone",
     "not a service key"),
])
def test_policy_refuses_a_bad_service(lab_policy, entry, where, words):
    raw = example("policy/policy.yml")
    raw["services"] = [entry]
    with pytest.raises(PolicyError) as info:
        validate_policy(raw, source="policy.yml")
    assert where in str(info.value) and words in str(info.value)


def test_duplicate_service_names_are_refused():
    with pytest.raises(ValidationError, match="listed twice"):
        traffic.validate_services([WEB, dict(WEB)])


def test_a_policy_without_a_catalogue_keeps_its_hash(lab_policy):
    raw = example("policy/policy.yml")
    raw.pop("services")
    plain = validate_policy(raw, source="policy.yml")
    assert "services" not in plain and plain["policy_sha256"] != lab_policy["policy_sha256"]


# ------------------------------------------------------------------------------------------------ rules


def test_parse_rule_reads_addresses_ports_and_verdict():
    rule = traffic.parse_rule(BLOCK)
    assert rule["verdict"] == "drop" and rule["protocol"] == "tcp" and rule["dports"] == [(8000, 8100)]
    assert [str(net) for net in rule["daddr"]] == ["10.0.45.0/24"]
    sets = traffic.parse_rule("add rule inet filter forward ip daddr { 10.0.45.10, 10.0.45.11 } tcp dport { 80, 443 } accept")
    assert [str(net) for net in sets["daddr"]] == ["10.0.45.10/32", "10.0.45.11/32"] and sets["dports"] == [(80, 80), (443, 443)]
    assert traffic.parse_rule("add table inet filter") is None
    assert traffic.parse_rule("add rule inet filter forward ip daddr != 10.0.45.10 drop")["daddr"] is None  # negation: anything
    assert traffic.parse_rule("add rule inet filter forward tcp dport http accept")["dports"] is None  # named port: any
    assert traffic.parse_rule('add rule inet filter forward tcp dport 22 counter comment "accept later"') is None
    # a rule body inside a chain (a candidate ruleset's added line) is a rule; chain headers and policies are not
    body = traffic.parse_rule('\t\tiifname "eth-r3" ip daddr 10.0.45.10 tcp dport 8080 counter accept comment "acl"')
    assert body["verdict"] == "accept" and body["dports"] == [(8080, 8080)]
    assert traffic.parse_rule("\t\ttype filter hook forward priority filter; policy drop;") is None
    assert traffic.parse_rule("\t\tcounter drop")["daddr"] is None  # drops everything: matches every service
    assert traffic.parse_rule("add chain inet filter forward { type filter hook forward priority 0; policy drop; }") is None


@pytest.mark.parametrize("line, hit", [
    (BLOCK, True),
    ("insert rule inet filter forward ip daddr 10.0.45.0/24 tcp dport 9000-9100 drop", False),
    ("insert rule inet filter forward ip daddr 10.0.46.0/24 tcp dport 8080 drop", False),
    ("insert rule inet filter forward udp dport 8080 drop", False),
    ("insert rule inet filter forward drop", True),
])
def test_rule_matches_the_service_it_can_carry(line, hit):
    assert traffic.rule_matches(traffic.parse_rule(line), traffic.validate_services([WEB])[0]) is hit


# ------------------------------------------------------------------------------------------------ plan


def test_blocking_change_probes_the_catalogue_service_it_touches():
    out = plan([BLOCK])
    assert out["firewalls"] == ["fw1"]
    assert out["probes_by_host"] == {"fw1": [{"name": "srv1_web", "type": "tcp", "host": "10.0.45.10", "port": 8080, "from": "r3",
                                              "timeout": traffic.PROBE_TIMEOUT_S}]}
    assert out["services"][0]["touched_by"] == [BLOCK]
    assert out["rule_probes"] == []
    assert out["unprobed"][0]["rule"] == BLOCK and "subnet, a range" in out["unprobed"][0]["reason"]


def test_a_rule_naming_a_host_and_port_adds_a_probe_from_the_catalogue_vantage_point():
    line = 'add rule inet filter forward ip daddr 10.0.45.11 tcp dport { 443, 8443 } accept'
    out = plan([line])
    names = [probe["name"] for probe in out["probes_by_host"]["fw1"]]
    assert names == ["srv1_web", "rule tcp 10.0.45.11:443 from r3", "rule tcp 10.0.45.11:8443 from r3"]
    assert out["rule_probes"][0]["rule"] == line
    # the same address and port as a catalogue service: one probe, the service's
    assert [p["name"] for p in plan(["add rule inet filter forward ip daddr 10.0.45.10 tcp dport 8080 drop"])["probes_by_host"]["fw1"]] == \
        ["srv1_web"]


def test_no_vantage_point_is_shown_not_guessed():
    out = plan(["add rule inet filter forward ip daddr 192.0.2.7 tcp dport 25 accept"])
    assert [p["name"] for p in out["probes_by_host"]["fw1"]] == ["srv1_web"]
    assert "no vantage point for 192.0.2.7" in out["unprobed"][0]["reason"]


def test_not_a_firewall_change_has_no_probes():
    out = traffic.traffic_plan(traffic.validate_services([WEB]), {"r1": ["ip route 10.9.0.0/24 10.0.12.2"]}, {"r1": "frr"}, HOSTS)
    assert out["firewalls"] == [] and out["probes_by_host"] == {}


def test_via_limits_a_service_to_its_firewalls_and_reachable_false_is_probed_as_must_stay_blocked():
    other = dict(WEB, name="other_web", via=["fw2"])
    closed = dict(WEB, name="srv1_ssh", port=22, reachable=False)
    out = plan([BLOCK], services=[WEB, other, closed])
    assert [p["name"] for p in out["probes_by_host"]["fw1"]] == ["srv1_web", "srv1_ssh"]
    assert out["probes_by_host"]["fw1"][1]["reachable"] is False and "reachable" not in out["probes_by_host"]["fw1"][0]


def test_a_vantage_point_outside_the_inventory_is_refused():
    with pytest.raises(ValidationError) as info:
        plan([BLOCK], hosts=("r1", "fw1"))
    assert "from 'r3', which is not in the inventory" in str(info.value) and "srv1_web" in str(info.value)


def test_intended_names_a_catalogue_service():
    assert plan([BLOCK], intended={"services_blocked": ["srv1_web"]})["intended"] == {"services_blocked": ["srv1_web"]}
    with pytest.raises(ValidationError) as info:
        plan([BLOCK], intended={"services_blocked": ["srv9_web"]})
    assert "intended.services_blocked[0]" in str(info.value) and "srv1_web" in str(info.value)


# ------------------------------------------------------------------------------------------------ assessment and runbook


def blocking_request(**extra):
    request = example("changes/acl_update_fw1.yml")
    request.update(id="CHG-1099", title="Block web to srv1", category="acl_update", expected=[])
    request["config"] = {"fw1": {"lines": [BLOCK]}}
    request.update(extra)
    return request


def test_assessment_and_runbook_show_the_probes_and_where_they_run(lab_policy):
    request = blocking_request()
    assessment = assess(request, lab_policy, lab_inventory(), {"fw1": {"running": NFT_FW1}}, now=NOW)
    planned = assessment["verification"]["traffic"]
    assert planned["probes_by_host"]["fw1"][0]["from"] == "r3" and planned["services"][0]["touched_by"] == [BLOCK]
    text = render_markdown(build_runbook(validate_change_request(request), assessment, lab_policy))
    assert "- probe `srv1_web`: tcp 10.0.45.10:8080 from r3's namespace, with fw1's snapshots" in text
    assert "service `srv1_web` is matched by the change's rule: %s" % BLOCK in text


def test_the_shipped_good_change_probes_srv1_web_and_its_new_port(lab_policy):
    assessment = assess(example("changes/acl_update_fw1.yml"), lab_policy, lab_inventory(), {"fw1": {"running": NFT_FW1}}, now=NOW)
    assert [p["name"] for p in assessment["verification"]["traffic"]["probes_by_host"]["fw1"]] == \
        ["srv1_web", "rule tcp 10.0.45.10:8443 from r3"]


def test_intended_services_blocked_reaches_the_verification(lab_policy):
    request = blocking_request(intended={"services_blocked": ["srv1_web"]})
    assessment = assess(request, lab_policy, lab_inventory(), {"fw1": {"running": NFT_FW1}}, now=NOW)
    assert assessment["verification"]["intended"]["services_blocked"] == ["srv1_web"]
    bad = blocking_request(intended={"services_blocked": ["srv1 web"]})
    with pytest.raises(ValidationError) as info:
        validate_change_request(bad)
    assert "intended.services_blocked[0]" in str(info.value)


# ------------------------------------------------------------------------------------------------ verdict


def snap(results, blocked=()):
    probes = {key: {"target": key, "result": value} for key, value in results.items()}
    for key in blocked:
        probes[key]["probe"] = {"type": "tcp", "host": "10.0.45.10", "port": 22, "from": "r3", "timeout": 2, "reachable": False}
    return {"device": "fw1", "platform": "linux",
            "sections": {"interfaces": {"eth-r3": {"name": "eth-r3", "state": "up"}}, "probes": probes}}


def verdict(pre, post, intended=None, name="probes_still_pass", blocked=()):
    result = run_checks(no_regression_checks("linux", intended=intended), pre=snap(pre, blocked), post=snap(post, blocked))
    return next(item for item in result["results"] if item["name"] == name)


def test_a_blocked_service_that_becomes_reachable_fails():
    item = verdict({"srv1_web": "ok", "srv1_ssh": "fail"}, {"srv1_web": "ok", "srv1_ssh": "ok"},
                   name="blocked_services_stay_blocked", blocked=["srv1_ssh"])
    assert item["passed"] is False and item["extra"] == ["srv1_ssh"]
    # staying blocked passes; one reachable already before the change is not the change's doing
    assert verdict({"srv1_ssh": "fail"}, {"srv1_ssh": "fail"}, name="blocked_services_stay_blocked", blocked=["srv1_ssh"])["passed"]
    assert verdict({"srv1_ssh": "ok"}, {"srv1_ssh": "ok"}, name="blocked_services_stay_blocked", blocked=["srv1_ssh"])["passed"]
    # a change that closes a blocked service that was open is not a lost service
    assert verdict({"srv1_ssh": "ok"}, {"srv1_ssh": "fail"}, blocked=["srv1_ssh"])["passed"] is True
    # a probe without a recorded definition is an ordinary probe
    assert verdict({"x": "fail"}, {"x": "ok"}, name="blocked_services_stay_blocked")["passed"] is True


def test_a_service_reachable_before_and_not_after_fails():
    item = verdict({"srv1_web": "ok"}, {"srv1_web": "fail"})
    assert item["passed"] is False and item["missing"] == ["srv1_web"]


def test_reachable_after_passes_and_unreachable_before_is_not_required():
    assert verdict({"srv1_web": "ok", "rule tcp 10.0.45.10:8443 from r3": "fail"},
                   {"srv1_web": "ok", "rule tcp 10.0.45.10:8443 from r3": "fail"})["passed"] is True
    assert verdict({"srv1_web": "fail"}, {"srv1_web": "fail"})["passed"] is True


def test_a_service_declared_blocked_is_not_counted():
    item = verdict({"srv1_web": "ok"}, {"srv1_web": "fail"}, intended={"services_blocked": ["srv1_web"]})
    assert item["passed"] is True and item["intended_missing"] == ["srv1_web"]
    other = verdict({"srv1_web": "ok", "srv2_web": "ok"}, {"srv1_web": "fail", "srv2_web": "fail"},
                    intended={"services_blocked": ["srv1_web"]})
    assert other["passed"] is False and other["missing"] == ["srv2_web"]


def test_probes_missing_after_the_change_fail_closed():
    pre = snap({"srv1_web": "ok"})
    post = snap({})
    post["sections"].pop("probes")
    result = run_checks(no_regression_checks("linux"), pre=pre, post=post)
    item = next(r for r in result["results"] if r["name"] == "probes_still_pass")
    assert item["passed"] is False and item["undecidable"] is True


# ------------------------------------------------------------------------------------------------ like-for-like probes


def test_a_snapshot_keeps_each_probe_definition_and_a_later_one_can_run_the_same(tmp_path):
    from ansible_collections.governed.change.plugins.module_utils import statestore
    from ansible_collections.governed.change.plugins.module_utils.snapshot import parse_probes, probes_taken

    probe = traffic.service_probe(traffic.validate_services([WEB])[0])
    section = parse_probes({"srv1_web": {"result": "ok", "probe": dict(probe, extra="dropped")}, "plain": "fail",
                            "bare": {"result": "ok", "probe": {"host": "10.0.45.10", "port": 8080, "name": None, "reachable": True}}})
    assert section["srv1_web"] == {"target": "srv1_web", "result": "ok", "probe": probe}
    # defaults filled, empty values and reachable: true left out: a probe given with or without defaults is recorded the same
    assert section["bare"]["probe"] == {"type": "tcp", "host": "10.0.45.10", "port": 8080, "timeout": 2}
    assert section["plain"] == {"target": "plain", "result": "fail"}
    doc = {"device": "fw1", "platform": "linux", "sections": {"probes": section}}
    assert probes_taken(doc) == [section["bare"]["probe"], probe]
    ref = statestore.put(str(tmp_path), doc, "snapshot")
    assert probes_taken(ref) == [section["bare"]["probe"], probe]
    assert probes_taken({"device": "fw1", "sections": {}}) == [] and probes_taken(None) == []
