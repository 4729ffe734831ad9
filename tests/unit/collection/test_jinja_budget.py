# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""No decision rule in Jinja (issue 13): at most 30 inline conditionals across roles/*/tasks and playbooks/.

An inline conditional is an ``if`` (or ``elif``) inside a Jinja tag of a task file's strings: ``{% if %}`` blocks and
``X if C else Y`` expressions in ``{{ }}``. ``when:``/``until:`` are Ansible's own conditions, not counted. The strings
are read with a YAML parser and the templates with Jinja's own lexer, so an ``if`` in a string literal, a comment or
a task name does not count, and a conditional spread over several lines counts once. The rules belong in
plugins/module_utils (run_decisions.py, outcome.py...), called through thin filters.
"""

from __future__ import annotations

import glob
import os

import jinja2
import pytest
import yaml

from repo_paths import ROOT

BUDGET = 30
LEXER = jinja2.Environment()


def task_files():
    files = glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))
    files += glob.glob(os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True)
    return sorted(files)


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def inline_conditionals(text):
    """How many ``if``/``elif`` a template string holds inside its Jinja tags (data outside the tags is not lexed as names)."""
    if "{{" not in text and "{%" not in text:
        return 0
    return sum(1 for _line, kind, value in LEXER.lex(text) if kind == "name" and value in ("if", "elif"))


def count_file(path):
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    return sum(inline_conditionals(text) for text in _strings(document))


def test_the_counter_counts_what_it_should_and_nothing_else():
    assert inline_conditionals("{{ a if b else c }}") == 1
    assert inline_conditionals("{{ a if b else (c if d else e) }}") == 2
    assert inline_conditionals("{% if a %}x{% elif b %}y{% endif %}") == 2
    assert inline_conditionals("{{ x | default(omit, true) }}") == 0
    assert inline_conditionals("{{ 'if you must' ~ x }} and if not, else") == 0  # literals and plain text
    assert inline_conditionals("only if needed, else nothing") == 0
    multi = "{{ a\n   if b\n   else c }}"
    assert inline_conditionals(multi) == 1


def test_inline_conditionals_in_roles_and_playbooks_stay_within_the_budget():
    counts = dict((os.path.relpath(p, ROOT), count_file(p)) for p in task_files())
    assert len(counts) > 20, "the task files were not found under %s" % ROOT
    total = sum(counts.values())
    worst = sorted(((n, p) for p, n in counts.items() if n), reverse=True)[:8]
    assert total <= BUDGET, (
        "%d inline conditionals in roles/*/tasks and playbooks/ (budget %d); the most in: %s. Move the rule into "
        "plugins/module_utils (e.g. run_decisions.py) behind a thin filter, or use `| default(omit, true)` for an optional "
        "option." % (total, BUDGET, ", ".join("%s (%d)" % (p, n) for n, p in worst)))


@pytest.mark.parametrize("path", ["roles/pipeline/tasks/finish.yml", "playbooks/close.yml", "playbooks/escalate.yml"])
def test_the_run_is_decided_by_the_core_not_in_jinja(path):
    """finish.yml, close.yml and escalate.yml decide nothing themselves: they call governed.change.run_decision."""
    full = os.path.join(ROOT, path)
    assert count_file(full) == 0
    with open(full, encoding="utf-8") as handle:
        assert "governed.change.run_decision" in handle.read()
