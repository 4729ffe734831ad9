# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a governed run writes by default: $GOVERNED_CHANGE_OUTPUT_DIR, else out/ in the working directory."""

from __future__ import annotations

DOCUMENTATION = r"""
name: output_dir
author:
  - Governed Change Maintainers (@governed-change)
version_added: 1.0.0
short_description: The default output folder of a governed run (ledger, assessments, runbooks, store, evidence)
description:
  - Returns the absolute path of the folder a governed run writes to when the extra var C(governed_output_dir) is not
    given - the environment variable C(GOVERNED_CHANGE_OUTPUT_DIR) when set, else C(out) in the working directory of
    C(ansible-playbook) (for AWX or ansible-runner, the project directory of the job).
  - The stage playbooks' C(governed_output_dir) default is this lookup; C(governed_ledger) and C(governed_store_dir)
    follow it (C(ledger.sqlite) and C(store) inside).
  - A folder inside the installed collection (one holding C(MANIFEST.json)) is refused - an upgrade or reinstall of the
    collection would delete the ledger and the evidence.
options: {}
notes:
  - Takes no terms; any given are ignored.
  - On AWX the job's project directory is temporary; set C(governed_output_dir) to persistent storage there.
"""

EXAMPLES = r"""
- name: Show where this run writes its ledger and evidence
  ansible.builtin.debug:
    msg: "{{ lookup('governed.change.output_dir') }}"
"""

RETURN = r"""
_raw:
  description: One absolute path.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError
from ansible_collections.governed.change.plugins.module_utils.paths import OUTPUT_DIR_ENV, check_outside_collection, default_output_dir


class LookupModule(LookupBase):
    """lookup('governed.change.output_dir') -> the default output folder, refused inside the installed collection."""

    def run(self, terms, variables=None, **kwargs):
        try:
            return [check_outside_collection(default_output_dir(), where="%s / the working directory" % OUTPUT_DIR_ENV)]
        except GovernedChangeError as exc:
            raise AnsibleLookupError("governed.change.output_dir: %s" % exc)
