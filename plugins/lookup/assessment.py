# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The assessment of a change, read through the one assessment loader (module_utils/assessment_artifact)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: assessment
author:
  - Governed Change Maintainers (@governed-change)
version_added: 1.1.0
short_description: The assessment of a change, loaded and checked by the one assessment loader
description:
  - Returns the assessment C(governed.change.assess) wrote, from its file or from the assessment (or the
    set_stats summary naming its file) a stage was given, checked the way every stage checks it
    (schema version, required keys, the file's sha256 stamp, and the content hash a summary carries).
  - Stages use it instead of reading the assessment file with C(lookup('ansible.builtin.file') | from_json),
    so a hand-edited, truncated or foreign file is refused with the field at fault.
  - An assessment given in O(assessment) wins over the file; a summary in O(assessment) (it has
    C(assessment_file) but not the full keys) is replaced by the file it names.
options:
  _terms:
    description:
      - The assessment file (C(<change id>.assessment.json)); relative paths are searched like
        C(ansible.builtin.file) does (the role's or playbook's C(files/), then the playbook directory).
      - An empty term means no file.
    required: false
  assessment:
    description:
      - The assessment (the registered C(governed.change.assess) result's C(assessment)) or its set_stats
        summary. An empty dict means none.
    type: dict
    default: {}
  required:
    description:
      - Refuse when neither a file nor an assessment is given. With C(false) an empty dict is returned instead.
    type: bool
    default: true
notes:
  - The file and the loader are those of the C(governed.change.review_gate) C(assessment_file) option.
seealso:
  - module: governed.change.assess
"""

EXAMPLES = r"""
- name: The change's targets, from the assessment given or its file
  ansible.builtin.set_fact:
    deploy_targets: "{{ lookup('governed.change.assessment', deploy_assessment_file, assessment=deploy_assessment).hosts }}"

- name: The change id, when an assessment file is known (empty otherwise)
  ansible.builtin.set_fact:
    change_id: "{{ lookup('governed.change.assessment', governed_assessment_file | default(''), required=false).change_id | default('') }}"
"""

RETURN = r"""
_raw:
  description: The assessment (a dict), or an empty dict when nothing was given and O(required=false).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.governed.change.plugins.module_utils import assessment_artifact
from ansible_collections.governed.change.plugins.module_utils.errors import GovernedChangeError


class LookupModule(LookupBase):
    """lookup('governed.change.assessment', FILE, assessment=GIVEN) -> the checked assessment."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        given = self.get_option("assessment") or None
        files = [str(term) for term in terms or [] if term not in (None, "")]
        if len(files) > 1:
            raise AnsibleLookupError("governed.change.assessment: %d files were given. Fix: pass one assessment file." % len(files))
        path = self._locate(variables, files[0]) if files else None
        if given is None and path is None and not self.get_option("required"):
            return [{}]
        try:
            if given is not None and not assessment_artifact.is_reference(given):
                return [assessment_artifact.validate(given, where="assessment")[0]]  # the assessment given wins over the file
            assessment, _source = assessment_artifact.resolve(given, path, resolve_path=lambda found: self._locate(variables, found))
        except GovernedChangeError as exc:
            raise AnsibleLookupError("governed.change.assessment: %s" % exc)
        return [assessment]

    def _locate(self, variables, path):
        """The file as ansible.builtin.file finds it; a path not found is returned as given (the loader names it)."""
        found = self.find_file_in_search_path(variables or {}, "files", path, ignore_missing=True)
        return found or path
