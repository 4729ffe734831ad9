# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device stages' records, decided once for every device from the registered task results (issue 16: no per-host
set_fact copies them): run_decisions.deploy_records, precheck_statuses, verify_results' key filter, ran; and the
expected checks of many devices at once (the expected_for filter given a list)."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.filter.expected_for import expected_for
from ansible_collections.governed.change.plugins.module_utils import run_decisions

SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}


def test_a_batch_confirm_that_ran_and_passed_confirms_the_commit():
    got = run_decisions.deploy_records({
        "hosts": ["r1", "r2", "r3"],
        "deploy": {"r1": {"changed": True, "summary": "1 line", "invocation": {"module_args": {"lines": ["secret"]}}},
                   "r2": {"changed": True}, "r3": {"failed": True, "msg": "vtysh refused", "transient": True}},
        "check": {"r1": {"passed": True, "post": {"x": 1}, "_ansible_no_log": False}, "r2": {"passed": True},
                  "r3": {"failed": True, "undecidable": True}},
        "confirm": {"r1": {"changed": True}, "r2": {"failed": True, "msg": "timer gone"}},
        "final": {"r1": SKIPPED, "r2": SKIPPED, "r3": SKIPPED},
    })
    assert got["r1"] == {"deploy": {"changed": True, "summary": "1 line"}, "check": {"passed": True, "post": {"x": 1}},
                         "confirmed": True, "transient": False, "undecidable": False}
    assert got["r2"]["confirmed"] is False  # its batch confirm failed, the final one was skipped
    assert got["r3"]["confirmed"] is False and got["r3"]["transient"] is True and got["r3"]["undecidable"] is True
    assert got["r3"]["deploy"] == {"failed": True, "msg": "vtysh refused", "transient": True}


def test_the_final_confirm_counts_only_when_it_ran_and_passed():
    base = {"hosts": ["r1"], "deploy": {"r1": {"changed": True}}, "check": {"r1": {"passed": True}}, "confirm": {}}
    assert run_decisions.deploy_records(dict(base, final={"r1": {"changed": True}}))["r1"]["confirmed"] is True
    assert run_decisions.deploy_records(dict(base, final={"r1": {"failed": True}}))["r1"]["confirmed"] is False
    assert run_decisions.deploy_records(dict(base, final={"r1": SKIPPED}))["r1"]["confirmed"] is False
    assert run_decisions.deploy_records(dict(base, final={}))["r1"]["confirmed"] is False
    # a device of the scope that was never deployed nor checked still gets a record (nothing confirmed)
    untouched = {"deploy": {}, "check": {}, "confirmed": False, "transient": False, "undecidable": False}
    assert run_decisions.deploy_records({"hosts": ["r9"]})["r9"] == untouched


def test_a_transient_final_confirm_makes_the_device_transient():
    got = run_decisions.deploy_records({"hosts": ["r1"], "final": {"r1": {"failed": True, "transient": True}}})
    assert got["r1"]["transient"] is True


def test_precheck_statuses_decide_every_device_from_its_three_steps():
    got = run_decisions.precheck_statuses({
        "r1": ({"backup": {}}, {"snapshot": {}}, SKIPPED),
        "r2": ({"failed": True, "msg": "no route to host", "transient": True}, SKIPPED, SKIPPED),
    })
    assert got == {"r1": {"failed": False, "transient": False, "msg": ""},
                   "r2": {"failed": True, "transient": True, "msg": "no route to host"}}


def test_verify_results_keep_only_the_check_record_of_a_task_result():
    got = run_decisions.verify_results({"r1": {"passed": True, "failed": False, "post": "p", "invocation": {"module_args": {}},
                                               "changed": False}}, now="t")
    assert got["hosts"] == {"r1": {"passed": True, "failed": False, "post": "p"}} and got["passed"] is True
    # a device whose check was skipped decides nothing: it fails (fail closed), as a missing record always did
    skipped = run_decisions.verify_results({"r1": SKIPPED}, now="t")
    assert skipped["failed_hosts"] == ["r1"] and skipped["undecidable"] is True


def test_ran_drops_skipped_results():
    assert run_decisions.ran({"r1": SKIPPED, "r2": {"changed": True}, "r3": "junk"}) == {"r2": {"changed": True}}


def test_expected_for_a_list_of_devices_gives_each_its_checks():
    expected = [{"name": "lo", "hosts": []}, {"name": "far", "hosts": ["r3"]}]
    got = expected_for(expected, ["r1", "r2", "r3"], ["r1", "r2"])
    assert got == {"r1": [{"name": "lo"}], "r2": [{"name": "lo"}], "r3": [{"name": "far"}]}
    assert got["r1"] == expected_for(expected, "r1", ["r1", "r2"])
