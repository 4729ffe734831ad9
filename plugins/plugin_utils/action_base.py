# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared base of the governed.change action plugins.

Arguments are validated against the DOCUMENTATION of the matching doc-only module (as ansible.utils does),
the work is delegated to the core in plugins/module_utils, and every core error becomes a failed result
whose message starts with the plugin's name and ends with the fix.
"""

from __future__ import annotations

import copy
import importlib
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.docfile import parse_yaml_text
from ansible_collections.governed.change.plugins.module_utils.paths import check_outside_collection, default_output_dir, is_database_url

display = Display()

_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "no_log", "aliases", "apply_defaults")


def _options_to_spec(options):
    """Turn DOCUMENTATION options (with suboptions) into an ArgumentSpecValidator argument_spec."""
    spec = {}
    for name, doc in (options or {}).items():
        entry = {key: doc[key] for key in _SPEC_KEYS if key in doc}
        if "suboptions" in doc:
            entry["options"] = _options_to_spec(doc["suboptions"])
        spec[name] = entry
    return spec


def _fragment_options(name):
    """Options of one of this collection's doc fragments (``governed.change.<name>``), imported directly."""
    prefix = "governed.change."
    if not name.startswith(prefix):
        raise AnsibleActionFail("doc fragment %s is not one of governed.change's. Fix: extend only governed.change.* fragments "
                                "in the collection's module documentation." % name)
    try:
        fragment = importlib.import_module("ansible_collections.governed.change.plugins.doc_fragments.%s" % name[len(prefix):])
    except ImportError as exc:
        raise AnsibleActionFail("doc fragment %s cannot be loaded (%s). Fix: add plugins/doc_fragments/%s.py." % (
            name, exc, name[len(prefix):]))
    return parse_yaml_text(fragment.ModuleDocFragment.DOCUMENTATION, source=name).get("options") or {}


def argument_spec_from_doc(documentation):
    """The argument spec of a DOCUMENTATION block, with the options of the fragments it extends (its own options win).

    Parsed once per process (5-10 ms a module); the controller parses every action's spec before the workers fork
    (plugin_utils/prewarm.py), so a task's worker finds it done. Each call returns its own copy.
    """
    cached = _SPEC_CACHE.get(documentation)
    if cached is None:
        cached = _SPEC_CACHE[documentation] = _parse_spec(documentation)
    return copy.deepcopy(cached)


_SPEC_CACHE = {}


def _parse_spec(documentation):
    doc = parse_yaml_text(documentation, source="DOCUMENTATION")
    options = {}
    for name in doc.get("extends_documentation_fragment") or []:
        options.update(_fragment_options(name))
    options.update(doc.get("options") or {})
    doc["options"] = options
    return _options_to_spec(options), doc


class GovernedActionBase(ActionBase):
    """Validate arguments from the module's DOCUMENTATION, run ``execute``, map core errors to failures."""

    TRANSFERS_FILES = False
    _requires_connection = False
    MODULE_NAME = None  # e.g. "assess": the doc-only module under plugins/modules

    def _fqcn(self):
        return "governed.change.%s" % self.MODULE_NAME

    def _validated_args(self, args=None):
        """The task's arguments (or ``args``) validated against the module's DOCUMENTATION."""
        module = importlib.import_module("ansible_collections.governed.change.plugins.modules.%s" % self.MODULE_NAME)
        spec, doc = argument_spec_from_doc(module.DOCUMENTATION)
        validator = ArgumentSpecValidator(spec, mutually_exclusive=doc.get("mutually_exclusive"),
                                          required_one_of=doc.get("required_one_of"))
        outcome = validator.validate(self._task.args if args is None else args)
        if outcome.error_messages:
            raise AnsibleActionFail("%s: invalid arguments: %s. Fix: see `ansible-doc %s`." % (
                self._fqcn(), "; ".join(outcome.error_messages), self._fqcn()))
        return outcome.validated_parameters

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        try:
            args = self._validated_args()
            result.update(self.execute(args, task_vars, result))
        except GovernedChangeError as exc:
            result.update(failed=True, msg="%s: %s" % (self._fqcn(), exc), error=exc.as_dict())
            verdict = getattr(exc, "verdict", None)
            if verdict is not None:
                result["verdict"] = verdict
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=str(exc.message))
        return result

    def execute(self, args, task_vars, result):  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers for subclasses ----------------------------------------------------------------------
    def _path(self, path, task_vars):
        """Resolve a user path like other Ansible plugins do (relative to the playbook/role)."""
        if not path or is_database_url(path):  # a PostgreSQL ledger URL is not a file
            return path
        return self._loader.path_dwim_relative(self._loader.get_basedir(), "", path) if not path.startswith("/") else path

    def output_dir(self, args, task_vars):
        """output_dir, else governed_output_dir, else $GOVERNED_CHANGE_OUTPUT_DIR or ./out (absolute); never inside the
        installed collection."""
        path = args.get("output_dir") or task_vars.get("governed_output_dir")
        if path:
            path = self._templar.template(path)
        else:
            path = default_output_dir()
        return check_outside_collection(os.path.abspath(self._path(str(path), task_vars)), where="output_dir")

    @staticmethod
    def stats(data, per_host=False):
        """A ``set_stats``-style payload so AWX passes ``data`` to the next workflow node as extra vars."""
        return {"data": data, "per_host": per_host, "aggregate": False}
