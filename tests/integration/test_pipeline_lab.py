# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole governed pipeline (playbooks/governed_change.yml) on the lab with the SQLite ledger (the embedded default).

Own lab instance (h3-, ports 233xx, lab/run-h3), reused by every test of the module; each run's ledger is
<its output directory>/ledger.sqlite. The cases are in pipeline_cases.py; test_pipeline_pg_lab.py runs the same cases
with the ledger on PostgreSQL. Timings go to out/pipeline_timings.json.
"""

from __future__ import annotations

import pytest

from conftest_pipeline import pipeline_env, pipeline_lab, signing, webhook  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_bad_change_rolls_back_escalates_and_restores_the_pre_state  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_change_in_a_freeze_stops_before_any_device_is_touched  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_expired_approval_cancels_and_escalates_approval_timeout  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_good_change_closes_successful  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_stage_playbooks_in_sequence_pass_artifacts_like_awx  # noqa: F401 pylint: disable=unused-import
from pipeline_cases import test_unapproved_change_stops_before_any_device_is_touched  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.lab, pytest.mark.slow]
