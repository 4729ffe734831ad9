# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/controller_load.yml and controller/*.yml against the real awx.awx modules (no controller is reachable here).

Every awx.awx task of the load playbook is rendered by Ansible's own templar for every loop item of the controller
configuration, and the rendered arguments are validated with the argument spec the installed awx.awx module itself
builds (captured from the module's main()), including its mutually_exclusive / required_if rules. The syntax check and
check-mode run through ansible-playbook are in tests/functional/test_controller_load_playbook.py.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
from ansible.template import Templar

from repo_paths import ROOT

PLAYBOOK = os.path.join(ROOT, "playbooks", "controller_load.yml")
STAGES = ("assess", "review", "window", "wait_for_dependency", "precheck", "deploy", "verify", "rollback", "close", "escalate")
# The reporting job templates (issue 17) and their schedules: template -> (playbook, the rrule's frequency)
REPORTING = {"governed-change metrics": ("playbooks/metrics.yml", "DAILY"),
             "governed-change post-hoc reviews": ("playbooks/post_reviews.yml", "HOURLY")}


class _Captured(Exception):
    """Raised by the stand-in ControllerAPIModule once it has the module's argument spec."""


def module_spec(name):
    """(argument_spec, module kwargs) exactly as awx.awx's module ``name`` builds them in main()."""
    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules.%s" % name)
    real = module.ControllerAPIModule
    captured = {}

    class Capture:  # pylint: disable=too-few-public-methods
        def __init__(self, argument_spec=None, **kwargs):
            spec = dict(real.AUTH_ARGSPEC)
            spec.update(argument_spec or {})
            captured.update(spec=spec, kwargs=kwargs)
            raise _Captured()

    module.ControllerAPIModule = Capture
    try:
        module.main()
    except _Captured:
        pass
    finally:
        module.ControllerAPIModule = real
    return captured["spec"], captured["kwargs"]


def validate_args(name, params):
    """Error messages of the module's own argument validation (unsupported keys, types, choices, exclusions)."""
    spec, kwargs = module_spec(name)
    validator = ArgumentSpecValidator(spec, mutually_exclusive=kwargs.get("mutually_exclusive"),
                                      required_together=kwargs.get("required_together"),
                                      required_one_of=kwargs.get("required_one_of"), required_if=kwargs.get("required_if"),
                                      required_by=kwargs.get("required_by"))
    result = validator.validate(dict(params))
    return [str(error) for error in result.errors]


@pytest.fixture(scope="module")
def loaded():
    """The play as Ansible loads it (templates trusted), its variables and every rendered awx.awx task invocation."""
    # An earlier module in this process may have imported the collection as a plain package (tests/conftest.py puts
    # .collections on sys.path); Ansible's collection finder then never sees it and governed.change's filters (used
    # by controller_load.yml) are unknown. Set those imports aside while the play is templated through the finder, then
    # put them back: the other modules of this process keep the very classes they imported (errors, exceptions).
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _collection_module(name)}
    try:
        return _load_play()
    finally:
        for name in [name for name in sys.modules if _collection_module(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        if saved:  # the collection goes on as the plain package it was: no finder in front of it
            _AnsibleCollectionFinder._remove()  # pylint: disable=protected-access


def _collection_module(name):
    return name == "ansible_collections" or name.startswith("ansible_collections.")


def _load_play():
    init_plugin_loader()
    loader = DataLoader()
    play = loader.load_from_file(PLAYBOOK, trusted_as_template=True)[0]
    variables = dict(play["vars"])
    for rel in play["vars_files"]:
        variables.update(loader.load_from_file(os.path.normpath(os.path.join(ROOT, "playbooks", rel)), trusted_as_template=True))
    variables["playbook_dir"] = os.path.join(ROOT, "playbooks")
    calls = []
    for task in play["tasks"]:
        if "ansible.builtin.set_fact" in task and "when" not in task:  # facts the load computes first (the workflow files read)
            for item in Templar(loader=loader, variables=variables).template(task.get("loop") or [None]):
                facts = Templar(loader=loader, variables=dict(variables, item=item)).template(task["ansible.builtin.set_fact"])
                variables.update(facts)
            continue
        modules = [key for key in task if key.startswith("awx.awx.")]
        if not modules:
            continue
        items = Templar(loader=loader, variables=variables).template(task["loop"])
        assert items, "task %r loops over nothing" % task["name"]
        for item in items:
            scope = dict(variables, item=item)
            scope.update(task.get("vars") or {})
            args = Templar(loader=loader, variables=scope).template(task[modules[0]])
            calls.append({"task": task["name"], "module": modules[0].split(".")[-1], "item": item, "args": dict(args),
                          "no_log": task.get("no_log") is True})
    return play, variables, calls


def test_every_task_argument_is_accepted_by_the_awx_module(loaded):
    _play, _variables, calls = loaded
    problems = []
    for call in calls:
        for error in validate_args(call["module"], call["args"]):
            problems.append("%s (%s): %s" % (call["task"], call["item"].get("name"), error))
    assert not problems, "\n".join(problems)
    assert {call["module"] for call in calls} == {"execution_environment", "project", "credential_type", "credential", "inventory",
                                                  "inventory_source", "notification_template", "job_template",
                                                  "workflow_job_template", "schedule"}


def test_the_argument_check_catches_a_wrong_argument():
    assert validate_args("job_template", {"name": "x", "playbook": "p.yml", "ask_variables_on_launch": True}) == []
    errors = validate_args("job_template", {"name": "x", "playbook_path": "p.yml"})
    assert any("playbook_path" in error for error in errors)
    errors = validate_args("credential_type", {"name": "x", "kind": "custom"})
    assert any("kind" in error and "cloud" in error for error in errors)
    errors = validate_args("credential", {"name": "x", "credential_type": "Machine", "organization": "Default", "user": "u"})
    assert any("mutually exclusive" in error for error in errors)


# every job reaches the devices, the governed-change settings and the ledger's PostgreSQL database
STAGE_CREDENTIALS = ["governed-change devices", "governed-change", "governed-change ledger database"]


def test_one_job_template_per_stage_with_the_contract_names(loaded):
    _play, _variables, calls = loaded
    templates = {call["args"]["name"]: call["args"] for call in calls if call["module"] == "job_template"}
    assert set(templates) == {"governed-change %s" % stage for stage in STAGES} | {"governed-change recover"} | set(REPORTING)
    recover = templates["governed-change recover"]
    assert recover["playbook"] == "playbooks/recover.yml" and recover["allow_simultaneous"] is False
    assert recover["ask_variables_on_launch"] is True and recover["credentials"] == STAGE_CREDENTIALS
    for stage in STAGES:
        args = templates["governed-change %s" % stage]
        assert args["playbook"] == "playbooks/%s.yml" % stage
        assert (args["project"], args["inventory"], args["organization"]) == ("governed-change", "governed-change lab", "Default")
        # workflow nodes pass extra_data and limit: the templates must prompt for both, or AWX drops them silently
        assert args["ask_variables_on_launch"] is True and args["ask_limit_on_launch"] is True
        assert args["use_fact_cache"] is False
        assert args["allow_simultaneous"] is True  # the multi-domain branches run the same stage at once
        assert args["credentials"] == STAGE_CREDENTIALS


def test_credential_type_injects_the_contract_variables_without_leaking_secrets(loaded):
    _play, _variables, calls = loaded
    (ctype,) = [call["args"] for call in calls if call["module"] == "credential_type" and call["args"]["name"] == "governed-change"]
    assert ctype["kind"] == "cloud"
    fields = {field["id"]: field for field in ctype["inputs"]["fields"]}
    assert {"ledger", "signing_key", "allowed_signers", "controller_host", "controller_token", "webhook_url"} <= set(fields)
    secrets = {name for name, field in fields.items() if field.get("secret")}
    assert secrets == {"signing_key", "controller_token", "webhook_url", "redaction_key"}
    # one redaction key for every job: the placeholders of a secret are the same on every execution node
    assert ctype["injectors"]["env"]["GOVERNED_CHANGE_REDACTION_KEY"] == "{{ redaction_key }}"
    assert "redaction_key" not in " ".join(ctype["injectors"]["extra_vars"].values())
    injectors = ctype["injectors"]
    # the injectors are AWX templates over the credential's inputs: they must reach the controller unrendered
    assert injectors["extra_vars"]["governed_ledger"] == "{{ ledger }}"
    assert injectors["env"]["GOVERNED_WEBHOOK_URL"] == "{{ webhook_url }}"
    assert injectors["env"]["CONTROLLER_OAUTH_TOKEN"] == "{{ controller_token }}"
    assert injectors["file"]["template.signing_key"] == "{{ signing_key }}"
    # the signing key and the controller token never become job extra vars
    extra_templates = " ".join(injectors["extra_vars"].values())
    assert "signing_key }}" not in extra_templates and "controller_token" not in extra_templates
    # every injector references a declared input (or the injected file)
    for section in ("extra_vars", "env", "file"):
        for value in injectors[section].values():
            ref = value.strip("{} ").split(".")[-1]
            assert ref in fields, value


def test_credentials_tasks_hide_secrets_and_drop_unset_inputs(loaded):
    _play, _variables, calls = loaded
    creds = [call for call in calls if call["module"] == "credential"]
    assert creds and all(call["no_log"] for call in creds)
    governed = [call["args"] for call in creds if call["args"]["credential_type"] == "governed-change"][0]
    # unset secrets are not sent as empty strings (AWX would store them as set-but-empty)
    assert "signing_key" not in governed["inputs"] and "webhook_url" not in governed["inputs"]
    assert "redaction_key" not in governed["inputs"]
    assert governed["inputs"]["ledger"] == "postgresql:"  # the database from the ledger credential's PG* variables
    database = [call["args"] for call in creds if call["args"]["credential_type"] == "governed-change ledger (PostgreSQL)"]
    assert [args["name"] for args in database] == ["governed-change ledger database"]
    assert "password" not in database[0]["inputs"] and "sslrootcert" not in database[0]["inputs"]  # unset: not sent
    assert database[0]["inputs"]["sslmode"] == "verify-full" and database[0]["inputs"]["port"] == "5432"


def test_the_ledger_database_credential_type_injects_libpq_variables_only(loaded):
    """The PostgreSQL ledger's connection reaches jobs as libpq environment variables (psycopg reads them): the password
    is secret, nothing becomes an extra var (extra vars are shown in the job), every injector names a declared input."""
    _play, _variables, calls = loaded
    (ctype,) = [call["args"] for call in calls if call["module"] == "credential_type"
                and call["args"]["name"] == "governed-change ledger (PostgreSQL)"]
    fields = {field["id"]: field for field in ctype["inputs"]["fields"]}
    assert {name for name, field in fields.items() if field.get("secret")} == {"password"}
    assert set(ctype["inputs"]["required"]) == {"host", "database", "username", "password"}
    injectors = ctype["injectors"]
    assert set(injectors) == {"env", "file"}
    assert {key: value for key, value in injectors["env"].items() if key != "PGSSLROOTCERT"} == {
        "PGHOST": "{{ host }}", "PGPORT": "{{ port }}", "PGDATABASE": "{{ database }}", "PGUSER": "{{ username }}",
        "PGPASSWORD": "{{ password }}", "PGSSLMODE": "{{ sslmode }}", "PGAPPNAME": "governed.change"}
    assert injectors["env"]["PGSSLROOTCERT"] == "{{ tower.filename }}" and injectors["file"] == {"template": "{{ sslrootcert }}"}


def test_workflow_task_loads_every_shipped_workflow_template(loaded):
    _play, _variables, calls = loaded
    workflows = {call["args"]["name"]: call["args"] for call in calls if call["module"] == "workflow_job_template"}
    shipped = {}
    for name in sorted(os.listdir(os.path.join(ROOT, "workflow_templates"))):
        with open(os.path.join(ROOT, "workflow_templates", name), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        shipped[doc["name"]] = doc
    assert set(workflows) == set(shipped)
    for name, args in workflows.items():
        assert args["workflow_nodes"] == shipped[name]["workflow_nodes"]
        assert args["destroy_current_nodes"] is True


def test_the_reporting_templates_and_their_schedules(loaded):
    """metrics daily, post-hoc reviews hourly: each schedule launches a template defined here, after it is loaded, with a
    valid iCalendar rule; the templates run on the controller with the ledger credential only and never twice at once."""
    play, _variables, calls = loaded
    templates = {call["args"]["name"]: call["args"] for call in calls if call["module"] == "job_template"}
    schedules = [call["args"] for call in calls if call["module"] == "schedule"]
    for name, (playbook, _frequency) in REPORTING.items():
        args = templates[name]
        assert args["playbook"] == playbook and os.path.isfile(os.path.join(ROOT, playbook))
        assert args["credentials"] == ["governed-change", "governed-change ledger database"] and args["allow_simultaneous"] is False
        assert args["ask_variables_on_launch"] is True  # a schedule's extra_data reaches the job only then
    assert sorted((s["unified_job_template"], s["rrule"].split("RRULE:FREQ=")[1].split(";")[0]) for s in schedules) == sorted(
        (name, frequency) for name, (_playbook, frequency) in REPORTING.items())
    for schedule in schedules:
        assert re.fullmatch(r"DTSTART:\d{8}T\d{6}Z RRULE:FREQ=(DAILY|HOURLY);INTERVAL=1", schedule["rrule"]), schedule["rrule"]
        assert schedule["enabled"] is True and schedule["state"] == "present"
    names = [task["name"] for task in play["tasks"]]
    assert names.index("Schedules (controller/schedules.yml; after the job templates they launch)") > names.index(
        "Job templates (one per stage playbook)")
    assert any("bogus" in error for error in validate_args("schedule", {"name": "x", "rrule": schedules[0]["rrule"], "bogus": 1}))


def test_workflow_validate_checks_the_schedules_against_awx_awx(tmp_path):
    """`governed-change workflow validate --controller-config` reads controller_schedules and names an unknown field."""
    from ansible_collections.governed.change.plugins.module_utils.workflow.validate import ControllerConfig  # pylint: disable=import-outside-toplevel
    clean = ControllerConfig(os.path.join(ROOT, "controller"), project_dir=ROOT)
    assert clean.errors == [] and set(clean.objects["controller_schedules"]) == {
        "governed-change metrics daily", "governed-change post-hoc reviews hourly"}
    with open(os.path.join(ROOT, "controller", "schedules.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    doc["controller_schedules"][0]["bogus_key"] = 1
    (tmp_path / "schedules.yml").write_text(yaml.safe_dump(doc))
    errors = [error.render() for error in ControllerConfig(str(tmp_path), project_dir=ROOT).errors]
    assert len(errors) == 1 and "bogus_key" in errors[0] and "awx.awx schedule" in errors[0]


NOTIFY_FIELDS = ("notification_templates_started", "notification_templates_success", "notification_templates_error")


def test_job_notifications_are_attached_only_with_a_webhook_url(loaded):
    """controller/notification_templates.yml: the webhook notification template is loaded with no_log (its URL is a
    secret); while governed_controller_job_webhook_url is unset the job templates' notifications are left as they are,
    once it is set every job template gets the template for start, success and failure (docs/notifications.md)."""
    _play, variables, calls = loaded
    (template,) = [call for call in calls if call["module"] == "notification_template"]
    assert template["no_log"] is True and template["args"]["notification_type"] == "webhook"
    assert template["args"]["notification_configuration"]["url"] == ""
    for call in (call for call in calls if call["module"] == "job_template"):
        assert [call["args"].get(field) for field in NOTIFY_FIELDS] == [None, None, None], call["item"]["name"]
    scope = dict(variables, governed_controller_job_webhook_url="https://hooks.example.invalid/awx/T0K")
    fields = Templar(loader=DataLoader(), variables=scope).template(variables["governed_controller_job_notification_fields"])
    assert fields == {field: ["governed-change jobs"] for field in NOTIFY_FIELDS}
