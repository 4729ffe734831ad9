# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback governed.change.evidence: records every task of a governed run into the change's ledger."""

from __future__ import annotations

DOCUMENTATION = r"""
name: evidence
type: notification
short_description: Record every task of a governed change run into the ledger and rebuild the evidence at the end
version_added: 0.1.0
description:
  - Once the run's change id is known (the variable C(governed_change_id) as an extra var, play var or fact, the
    C(summary.change_id) of a M(governed.change.assess) result, or the C(change_id) of a governed.change task such as
    M(governed.change.close)), every task result is recorded in the change's ledger as a C(task) event (task name,
    action, host, status ok/changed/failed/skipped/unreachable, its real start and duration, the pipeline stage - the
    stage role that ran it - and the trimmed and redacted result). A
    M(governed.change.check) task's event also holds C(checks) - one row per check with its name, host, phase (the
    stage - precheck, deploy, verify, rollback_verify), operator, expected and actual values (bounded), verdict
    (passed, failed, undecidable, skipped) and reason, redacted. Results seen
    before the change id is known are buffered; events are appended in batches.
  - At the end of the playbook, when a change was closed in this run, the evidence bundle and the HTML report are
    rebuilt so that they hold the run's task timeline, and the summary lines are printed.
  - Inert in plays that are not governed runs (no change id, or no existing ledger holding the change) - nothing is
    written and nothing fails; a ledger problem never fails the run, it is shown as a warning.
author:
  - Governed Change Maintainers (@governed-change)
requirements:
  - enable in configuration (C(callbacks_enabled = governed.change.evidence))
options:
  enabled:
    description: Record governed runs (set to false to switch the callback off without removing it from the configuration).
    type: bool
    default: true
    env:
      - name: GOVERNED_EVIDENCE_ENABLED
    ini:
      - section: governed_change_evidence
        key: enabled
  ledger:
    description:
      - Path of the ledger (SQLite). When unset, the C(ledger) argument of the run's governed.change tasks, the extra var
        C(governed_ledger), or C(governed_output_dir)/ledger.sqlite is used.
    type: path
    env:
      - name: GOVERNED_LEDGER
    ini:
      - section: governed_change_evidence
        key: ledger
  output_dir:
    description:
      - Folder under which the evidence is rebuilt. When unset, the output folder recorded by M(governed.change.close) is used.
    type: path
    env:
      - name: GOVERNED_OUTPUT_DIR
    ini:
      - section: governed_change_evidence
        key: output_dir
  max_result_bytes:
    description: A task result larger than this (as JSON) is not recorded; only its size, its keys and its message are.
    type: int
    default: 4096
    env:
      - name: GOVERNED_EVIDENCE_MAX_RESULT_BYTES
    ini:
      - section: governed_change_evidence
        key: max_result_bytes
  batch_size:
    description:
      - Task events are appended to the ledger in one transaction per this many tasks, before every task that changes
        devices (governed.change.deploy, restore, confirm, recover) and with each of its results, and at the end of the run.
    type: int
    default: 50
    env:
      - name: GOVERNED_EVIDENCE_BATCH_SIZE
    ini:
      - section: governed_change_evidence
        key: batch_size
  rebuild:
    description: Rebuild the bundle and the report at the end of a run that closed a change.
    type: bool
    default: true
    env:
      - name: GOVERNED_EVIDENCE_REBUILD
    ini:
      - section: governed_change_evidence
        key: rebuild
  timing_file:
    description:
      - Write the seconds the callback spent in its own hooks (recording, ledger writes, the rebuild) to this file as
        JSON at the end of the run (used by the overhead benchmark).
    type: path
    env:
      - name: GOVERNED_EVIDENCE_TIMING_FILE
    ini:
      - section: governed_change_evidence
        key: timing_file
  show_summary:
    description: Print the change's summary lines at the end of a run that closed a change.
    type: bool
    default: true
    env:
      - name: GOVERNED_EVIDENCE_SHOW_SUMMARY
    ini:
      - section: governed_change_evidence
        key: show_summary
"""

import json
import os
import time

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.governed.change.plugins.module_utils import evidence
from ansible_collections.governed.change.plugins.module_utils.clock import iso_z
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.ledger import ledger_exists, ledger_location, open_ledger
from ansible_collections.governed.change.plugins.module_utils.report import render_html
from ansible_collections.governed.change.plugins.plugin_utils.prewarm import cache_vars_files, prewarm, prewarm_connections

ACTOR = "governed.change.evidence"
# Result keys never recorded: Ansible internals, invocation (module arguments may hold secrets), facts (big, not evidence).
DROP_KEYS = ("invocation", "ansible_facts", "_ansible_no_log", "_ansible_verbose_always", "_ansible_verbose_override",
             "_ansible_item_label", "_ansible_delegated_vars", "_ansible_parsed", "_ansible_ignore_errors", "ansible_stats",
             "stdout_lines", "stderr_lines", "diff", "exception")
OWN_PREFIX = "governed.change."
BUFFER_MAX = 2000
# Tasks that change devices: the events buffered so far are appended before one starts and as each of its results
# arrives, so a controller that dies mid-stage (kill -9) leaves in the ledger everything up to the device change.
DEVICE_STAGE_ACTIONS = ("deploy", "restore", "confirm", "recover")
# A governed.change.check task's checks are recorded one row each (name, host, phase, expected, actual, verdict) beside its
# trimmed result; the phase follows the role that ran it.
CHECK_ACTION = "check"
CHECK_PHASES = {"precheck": "precheck", "deploy": "deploy", "verify": "verify", "rollback": "rollback_verify"}


def _iso(epoch):
    """A task's start (epoch seconds) in the one timestamp format (clock.iso_z)."""
    return iso_z(epoch)


def trim_result(result, max_bytes):
    """The recordable form of a task result: small keys kept, payload of huge results dropped (size, keys, msg only)."""
    data = dict((k, v) for k, v in result.items() if k not in DROP_KEYS and not str(k).startswith("_ansible"))
    if isinstance(data.get("results"), list) and data["results"] and all(
            isinstance(r, dict) and "name" in r and "passed" in r for r in data["results"]):
        data["results"] = [{"name": r.get("name"), "passed": r.get("passed")} for r in data["results"][:100]]  # rows: "checks"
    elif isinstance(data.get("results"), list):  # loops: per item status only
        data["results"] = [{"item": str(r.get("item"))[:200], "changed": r.get("changed"), "failed": r.get("failed"),
                            "skipped": r.get("skipped")} if isinstance(r, dict) else str(r)[:200] for r in data["results"][:100]]
    try:
        text = json.dumps(data, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = None
    if text is not None and len(text) <= max_bytes:
        return evidence.redact_all(json.loads(text))
    msg = data.get("msg")
    return evidence.redact_all({"truncated": True, "bytes": len(text) if text is not None else None, "keys": sorted(str(k) for k in data)[:50],
                                "msg": str(msg)[:500] if msg is not None else None, "changed": data.get("changed"),
                                "failed": data.get("failed")})


class CallbackModule(CallbackBase):
    """Record the tasks of a governed run as ledger events; rebuild the evidence when the run closed a change."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "governed.change.evidence"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self._enabled = True
        self._connections_warm = False
        self._opt_ledger = None
        self._opt_output = None
        self._max_bytes = 4096
        self._batch = 50
        self._rebuild = True
        self._show = True
        self.change_id = None
        self.ledger_path = None
        self.buffer = []            # (change_id or None, data) waiting for the change id / the next batch
        self.task_start = {}
        self.closed = None          # {change_id, ledger, output_dir} of a close in this run
        self._ledger = None
        self._broken = False
        self._checked = {}          # (ledger path, change id) -> the change exists in that ledger
        self._timing_file = None
        self.spent = {"record_s": 0.0, "flush_s": 0.0, "end_s": 0.0, "results": 0, "flushes": 0}

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._enabled = bool(self.get_option("enabled"))
        self._opt_ledger = self.get_option("ledger")
        self._opt_output = self.get_option("output_dir")
        self._max_bytes = int(self.get_option("max_result_bytes"))
        self._batch = max(1, int(self.get_option("batch_size")))
        self._rebuild = bool(self.get_option("rebuild"))
        self._show = bool(self.get_option("show_summary"))
        self._timing_file = self.get_option("timing_file")
        self.ledger_path = self._opt_ledger

    # -- discovery ----------------------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        if (getattr(context, "CLIARGS", None) or {}).get("check"):
            self._enabled = False  # a dry run leaves no trace in the ledger
        # the collection's plugins imported once here, before the workers fork (plugin_utils/prewarm.py)
        prewarm()

    def _prewarm_play(self, play):
        """Before the play's workers fork (plugin_utils/prewarm.py): the connection plugins its inventory's hosts use,
        loaded once per playbook run (every play has the same inventory), and the play's vars_files parsed once into
        the loader's cache."""
        manager = getattr(play, "get_variable_manager", lambda: None)()
        if manager is None:
            return
        inventory = getattr(manager, "_inventory", None)
        if inventory is not None and not self._connections_warm:
            self._connections_warm = True
            prewarm_connections(inventory, C.DEFAULT_TRANSPORT or "ssh")
        loader = getattr(manager, "_loader", None)
        if loader is not None:
            cache_vars_files(play, loader)

    def v2_playbook_on_play_start(self, play):
        # the connection plugins and vars files loaded once here, before the workers fork (plugin_utils/prewarm.py)
        self._prewarm_play(play)
        if not self._enabled:
            return
        try:
            manager = play.get_variable_manager()
            extra = dict(manager.extra_vars) if manager is not None else {}
        except AttributeError:
            extra = {}
        play_vars = getattr(play, "vars", None) or {}
        for source in (extra, play_vars):
            cid = source.get("governed_change_id")
            if isinstance(cid, str) and cid and "{{" not in cid:
                self._set_change(cid)
            if not self._opt_ledger and not self.ledger_path:
                path = source.get("governed_ledger")
                if isinstance(path, str) and path and "{{" not in path:
                    self.ledger_path = path
                out = source.get("governed_output_dir")
                if not self.ledger_path and isinstance(out, str) and out and "{{" not in out:
                    self.ledger_path = os.path.join(out, "ledger.sqlite")

    def _set_change(self, change_id):
        if change_id == self.change_id:
            return
        if self.change_id is not None:
            self._flush()
        self.change_id = str(change_id)

    def _learn(self, fields, data):
        action = str(fields.get("action") or "")
        if action.startswith(OWN_PREFIX) or action in ("assess", "close", "review_gate", "window_gate"):
            self._learn_ledger(fields.get("args") or {})
            self._learn_change(action, data)
            if action.endswith("close") and data.get("evidence") and not data.get("failed") and not fields.get("check_mode"):
                self._learn_closed(data)
        facts = data.get("ansible_facts")
        if isinstance(facts, dict) and isinstance(facts.get("governed_change_id"), str):
            self._set_change(facts["governed_change_id"])

    def _learn_ledger(self, args):
        """The ledger a governed task names (unless the callback's own option set one)."""
        ledger = args.get("ledger")
        if not self._opt_ledger and isinstance(ledger, str) and ledger and "{{" not in ledger:
            self.ledger_path = ledger_location(ledger)

    def _learn_change(self, action, data):
        # Only the assess stage (it opens the change) and close name the run's change; a gate run alone is not a
        # governed run unless governed_change_id says so.
        if action.endswith("assess"):
            summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
            cid = summary.get("change_id")
        elif action.endswith("close"):
            cid = data.get("change_id")
        else:
            return
        if isinstance(cid, str) and cid and "{{" not in cid:
            self._set_change(cid)

    def _learn_closed(self, data):
        """A close that wrote evidence: the change, ledger and output dir the bundle is built from at the end."""
        self.closed = {"change_id": data.get("change_id"), "ledger": (data.get("ledger") or {}).get("path") or self.ledger_path,
                       "output_dir": data.get("output_dir")}
        if isinstance(self.closed["ledger"], str):
            self.ledger_path = self.closed["ledger"]

    # -- recording ----------------------------------------------------------------------------------------------
    def v2_playbook_on_task_start(self, task, is_conditional):
        if self._enabled:
            self.task_start[task._uuid] = time.time()  # pylint: disable=protected-access
            self._flush_before_device_stage(str(getattr(task, "action", "") or ""))

    @staticmethod
    def _device_stage(action):
        return action.startswith(OWN_PREFIX) and action[len(OWN_PREFIX):] in DEVICE_STAGE_ACTIONS

    def _flush_before_device_stage(self, action):
        if self._device_stage(action) and not self._broken:
            try:
                self._flush()
            except Exception as exc:  # pylint: disable=broad-except
                self._disable("cannot record the tasks before a device stage (%s)" % exc)

    def v2_playbook_on_handler_task_start(self, task):
        if self._enabled:
            self.task_start[task._uuid] = time.time()  # pylint: disable=protected-access

    def _record(self, result, status):
        if not self._enabled or self._broken:
            return
        begin = time.perf_counter()
        try:
            fields = result.task_fields or {}
            self._learn(fields, result.result)
            for host, data, host_status in self._per_device(result, status, fields):
                self._buffer_item(self._task_item(result, host_status, fields, host=host, data=data))
        except Exception as exc:  # pylint: disable=broad-except
            self._disable("cannot record the task (%s)" % exc)
        self.spent["results"] += 1
        self.spent["record_s"] += time.perf_counter() - begin

    def _per_device(self, result, status, fields):
        """(host, result, status) to record: a fleet task of this collection (a device action run once over ``hosts``)
        gives each device's own result as its host's, so the record reads as if the task had run on every host."""
        data = result.result
        hosts = data.get("hosts") if data.get("fleet") is True else None
        if not self._own(str(fields.get("action") or result.task.action)) or not isinstance(hosts, dict) or not hosts:
            return [(None, None, status)]
        items = []
        for host, device in hosts.items():
            device = device if isinstance(device, dict) else {"failed": True, "msg": "no result"}
            device_status = "failed" if device.get("failed") else "skipped" if device.get("skipped") else (
                "changed" if device.get("changed") else "ok")
            items.append((str(host), dict(device, _ansible_no_log=data.get("_ansible_no_log")), device_status))
        return items

    def _task_item(self, result, status, fields, host=None, data=None):
        """The recorded form of one task result: times, trimmed result, check rows, delegation (``host``/``data``: one
        device's result of a fleet task)."""
        task, data = result.task, result.result if data is None else data
        started = self.task_start.get(task._uuid)  # pylint: disable=protected-access
        hidden = task.no_log or data.get("_ansible_no_log")
        if hidden:
            trimmed = {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result"}
        else:
            trimmed = trim_result(data, self._max_bytes)
        now = time.time()
        item = {"task": result.task_name, "action": str(fields.get("action") or task.action), "host": host or result.host.get_name(),
                "status": status, "started": _iso(started or now), "duration_s": round(now - started, 3) if started else None,
                "result": trimmed}
        stage = self._stage(task)
        if stage:
            item["stage"] = stage  # the report's stage timeline spans each stage's tasks
        if self._own(item["action"]) == CHECK_ACTION and not hidden:
            rows = evidence.check_records(data.get("results"), item["host"], self._phase(task))
            if rows:
                item["checks"] = rows
        delegated = data.get("_ansible_delegated_vars") or {}
        if delegated.get("ansible_host"):
            item["delegated_to"] = str(delegated.get("ansible_delegated_host") or delegated["ansible_host"])
        return item

    def _buffer_item(self, item):
        """Buffer the item; flush when the batch is full, a device-changing task's result arrives, or the change closed."""
        self.buffer.append((self.change_id, item))
        if self.change_id is None and len(self.buffer) > BUFFER_MAX:
            del self.buffer[0]  # not (yet) a governed run: keep only the latest tasks
        if self.change_id is not None and (len(self.buffer) >= self._batch or (
                self._device_stage(item["action"]) and item.get("status") != "skipped")):
            # a device-changing task's result is in the ledger as soon as it is known; a skipped one changed nothing and
            # waits for the batch (issue 16: at 30 routers most confirm and deploy results are skips of other batches)
            self._flush()
        elif self.closed is not None:
            self._flush()

    @staticmethod
    def _own(action):
        return action[len(OWN_PREFIX):] if action.startswith(OWN_PREFIX) else ""

    @staticmethod
    def _stage(task):
        """The pipeline stage a task ran in: the stage role that ran it (governed.change.deploy: deploy), else None."""
        role = getattr(task, "_role", None)
        name = str(role.get_name() if role is not None else "").rsplit(".", 1)[-1]
        return name if name in evidence.STAGES else None

    @staticmethod
    def _phase(task):
        """The stage a check ran in: the role that ran it (deploy, verify, rollback -> rollback_verify), else its task name."""
        role = getattr(task, "_role", None)
        name = str(role.get_name() if role is not None else "").rsplit(".", 1)[-1]
        return CHECK_PHASES.get(name) or name or str(getattr(task, "name", "") or "check")[:80]

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def _disable(self, why):
        self._broken = True
        self.buffer = []
        self._display.warning("governed.change.evidence: %s; the rest of this run is not recorded." % why)

    def _open(self):
        if self._ledger is None:
            self._ledger = open_ledger(self.ledger_path)
        return self._ledger

    def _governed(self, change_id):
        """True when the ledger file exists and holds the change (only then is anything written)."""
        if not change_id or not ledger_exists(self.ledger_path):
            return False
        key = (self.ledger_path, change_id)
        if not self._checked.get(key):
            self._checked[key] = self._open().get_change(change_id) is not None
        return self._checked[key]

    def _flush(self):
        if not self.buffer or self._broken or self.change_id is None:
            return
        begin = time.perf_counter()
        self.spent["flushes"] += 1
        try:
            items = [(cid or self.change_id, "task", ACTOR, data) for cid, data in self.buffer]
            wanted = [item for item in items if self._governed(item[0])]
            pending_unknown = [item for item in items if not self._governed(item[0])]
            if wanted:
                self._open().append_events(wanted)
            # Events of a change the ledger does not hold (yet: assess opens it) wait for the next flush.
            self.buffer = [(item[0], item[3]) for item in pending_unknown if item[0] == self.change_id]
            for key in [k for k, v in self._checked.items() if not v]:
                del self._checked[key]
        except GovernedChangeError as exc:
            self._disable(str(exc))
        self.spent["flush_s"] += time.perf_counter() - begin

    def v2_playbook_on_stats(self, stats):
        begin = time.perf_counter()
        try:
            self._end()
        finally:
            self.spent["end_s"] += time.perf_counter() - begin
            self._close()
            self._write_timing()

    def _write_timing(self):
        if not self._timing_file:
            return
        try:
            with open(self._timing_file, "w", encoding="utf-8") as handle:
                json.dump(dict(self.spent, total_s=self.spent["record_s"] + self.spent["end_s"]), handle)
        except OSError as exc:
            self._display.warning("governed.change.evidence: cannot write the timing file (%s)." % exc)

    def _end(self):
        if not self._enabled or self._broken:
            return
        self._flush()
        if self.closed and self._rebuild:
            try:
                closed = self.closed
                separate = closed["ledger"] != self.ledger_path
                ledger = open_ledger(closed["ledger"]) if separate else self._open()
                try:
                    output_dir = self._opt_output or closed["output_dir"]
                    outcome = [e for e in ledger.events(change_id=closed["change_id"]) if e["kind"] == "change.outcome"]
                    assessment_file = outcome[-1]["data"].get("assessment_file") if outcome else None
                    bundle, paths = evidence.build_and_write(ledger, closed["change_id"], output_dir, assessment_file=assessment_file,
                                                             render_report=render_html, actor=ACTOR)
                finally:
                    if separate:
                        ledger.close()
                if self._show:
                    self._display.banner("GOVERNED CHANGE SUMMARY")
                    for line in evidence.summary_lines(bundle, paths):
                        self._display.display(line)
            except GovernedChangeError as exc:
                self._display.warning("governed.change.evidence: the evidence was not rebuilt (%s)." % exc)

    def _close(self):
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
