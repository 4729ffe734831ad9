# -*- coding: utf-8 -*-
"""lookup('governed.change.assessment'), in process: the roles' and stage playbooks' one way to read the assessment."""

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
import yaml
from ansible import constants as C

from ansible_collections.governed.change.plugins.lookup import assessment as plugin_module
from ansible_collections.governed.change.plugins.module_utils import assessment_artifact as artifact

HASH = "ab" * 32
DOC = {"change_id": "CHG-8101", "title": "Lookup test", "author": "carol", "hosts": ["r1", "r2"], "tier": "low",
       "content_hash": HASH, "requirements": {}, "required_gates": [], "devices": {}}


@pytest.fixture
def lookup():
    """The plugin with its options declared from its own DOCUMENTATION, as the plugin loader declares them."""
    name = "governed.change.assessment"
    C.config.initialize_plugin_configuration_definitions("lookup", name, yaml.safe_load(plugin_module.DOCUMENTATION)["options"])
    plugin = plugin_module.LookupModule(loader=DataLoader())
    plugin._load_name = name
    return plugin


def test_the_file_is_loaded_and_checked(tmp_path, lookup):
    path = artifact.write(str(tmp_path), DOC)
    assert lookup.run([path], variables={}) == [DOC]
    with open(path, "r", encoding="utf-8") as handle:
        doc = json.load(handle)
    doc["hosts"] = ["r1"]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    with pytest.raises(AnsibleLookupError, match="governed.change.assessment: .*changed after governed.change.assess wrote it"):
        lookup.run([path], variables={})


def test_a_given_assessment_wins_and_a_summary_follows_its_file(tmp_path, lookup):
    path = artifact.write(str(tmp_path), DOC)
    given = dict(DOC, tier="high")
    assert lookup.run([path], variables={}, assessment=given) == [given]
    summary = {"change_id": "CHG-8101", "content_hash": HASH, "assessment_file": path}
    assert lookup.run([""], variables={}, assessment=summary) == [DOC]
    with pytest.raises(AnsibleLookupError, match="not the same assessment"):
        lookup.run([""], variables={}, assessment=dict(summary, content_hash="cd" * 32))


def test_nothing_given(lookup):
    assert lookup.run([""], variables={}, required=False) == [{}]
    with pytest.raises(AnsibleLookupError, match="no assessment was given"):
        lookup.run([""], variables={})
    with pytest.raises(AnsibleLookupError, match="does not exist"):
        lookup.run(["/nonexistent/CHG-1.assessment.json"], variables={})
