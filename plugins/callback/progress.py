# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback governed.change.progress: one line per pipeline stage (and device) instead of Ansible's raw task output."""

from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: stdout
short_description: One line per governed stage with a counter and its elapsed time
version_added: 1.0.0
description:
  - "A stdout callback for governed runs. Instead of every task's raw output it prints one line per pipeline stage (and per
    device where a stage works on devices), with the stage's place in the pipeline and its elapsed time, for example
    C([5/9] deploy r1: pushed 1 line, timer armed 60 s, 8 checks passed, confirmed 6.3 s)."
  - A failure is printed as a sentence (the failed checks with their expected and actual values, or the task and its
    message); a failure outside a stage role is printed at once. At the end a one-line recap.
  - The stage order and the words of every line come from the collection's core (C(module_utils/progress.py)); this
    callback only feeds it the task starts and results.
  - With O(verbose) set, or when ansible-playbook runs with C(-v) or more, the output is Ansible's default output unchanged.
  - Warnings, deprecations and the evidence callback's change summary are printed as usual. The evidence recording
    (governed.change.evidence) does not depend on this callback.
author:
  - Governed Change Maintainers (@governed-change)
requirements:
  - set as the stdout callback (C(stdout_callback = governed.change.progress) in ansible.cfg, or
    C(ANSIBLE_STDOUT_CALLBACK=governed.change.progress))
extends_documentation_fragment:
  - default_callback
  - result_format_callback
options:
  verbose:
    description:
      - Print Ansible's default (raw, per task) output instead of the stage lines. C(-v) on the command line does the same.
    type: bool
    default: false
    env:
      - name: GOVERNED_PROGRESS_VERBOSE
    ini:
      - section: governed_change_progress
        key: verbose
"""

import time

from ansible.plugins.callback.default import CallbackModule as DefaultCallback
from ansible.utils.color import stringc
from ansible import constants as C
from ansible_collections.governed.change.plugins.module_utils import progress


class CallbackModule(DefaultCallback):
    """Stage lines from module_utils/progress.StageProgress; the default callback's output in verbose mode."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "governed.change.progress"

    def __init__(self):
        super().__init__()
        self._raw = False
        self._stages = progress.StageProgress()
        self._started = time.monotonic()

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._raw = bool(self.get_option("verbose")) or self._display.verbosity > 0

    def _show(self, lines):
        for line in lines:
            self._display.display(stringc(line, C.COLOR_ERROR) if "FAILED" in line else line)

    @staticmethod
    def _stage(task):
        role = getattr(task, "_role", None)
        return progress.stage_of_role(role.get_name() if role is not None else None)

    def _result(self, result, status, ignored=False):
        task = result.task
        self._show(self._stages.result(self._stage(task), result.host.get_name(), getattr(task, "action", ""), status,
                                       result.result, result.task_name, ignored=ignored))

    # -- playbook and tasks ---------------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        if self._raw:
            super().v2_playbook_on_start(playbook)
            return
        self._started = time.monotonic()
        self._display.display("governed run: %s (stage lines; -v or GOVERNED_PROGRESS_VERBOSE=1 for the raw output)"
                              % getattr(playbook, "_file_name", "playbook"))

    def v2_playbook_on_play_start(self, play):
        if self._raw:
            super().v2_playbook_on_play_start(play)

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self._raw:
            super().v2_playbook_on_task_start(task, is_conditional)
            return
        self._show(self._stages.task(self._stage(task), time.monotonic()))

    def v2_playbook_on_handler_task_start(self, task):
        if self._raw:
            super().v2_playbook_on_handler_task_start(task)

    def v2_runner_on_ok(self, result):
        if self._raw:
            super().v2_runner_on_ok(result)
            return
        self._result(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if self._raw:
            super().v2_runner_on_failed(result, ignore_errors=ignore_errors)
            return
        self._result(result, "failed", ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        if self._raw:
            super().v2_runner_on_skipped(result)
            return
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        if self._raw:
            super().v2_runner_on_unreachable(result)
            return
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        if self._raw:
            super().v2_playbook_on_stats(stats)
            return
        self._show(self._stages.finish(time.monotonic()))
        hosts = {host: stats.summarize(host) for host in sorted(stats.processed.keys())}
        self._show([progress.recap_line(hosts, time.monotonic() - self._started)])

    # -- raw-only events: silent in the stage view ---------------------------------------------------------------
    def v2_runner_on_start(self, host, task):
        if self._raw:
            super().v2_runner_on_start(host, task)

    def v2_runner_item_on_ok(self, result):
        if self._raw:
            super().v2_runner_item_on_ok(result)

    def v2_runner_item_on_failed(self, result):
        if self._raw:
            super().v2_runner_item_on_failed(result)

    def v2_runner_item_on_skipped(self, result):
        if self._raw:
            super().v2_runner_item_on_skipped(result)

    def v2_runner_retry(self, result):
        if self._raw:
            super().v2_runner_retry(result)

    def v2_playbook_on_include(self, included_file):
        if self._raw:
            super().v2_playbook_on_include(included_file)

    def v2_on_file_diff(self, result):
        if self._raw:
            super().v2_on_file_diff(result)

    def v2_playbook_on_notify(self, handler, host):
        if self._raw:
            super().v2_playbook_on_notify(handler, host)

    def v2_playbook_on_no_hosts_matched(self):
        if self._raw:
            super().v2_playbook_on_no_hosts_matched()
            return
        self._display.display("no hosts matched")

    def v2_playbook_on_no_hosts_remaining(self):
        if self._raw:
            super().v2_playbook_on_no_hosts_remaining()

    def v2_runner_on_async_poll(self, result):
        if self._raw:
            super().v2_runner_on_async_poll(result)

    def v2_runner_on_async_ok(self, result):
        if self._raw:
            super().v2_runner_on_async_ok(result)

    def v2_runner_on_async_failed(self, result):
        if self._raw:
            super().v2_runner_on_async_failed(result)
