# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a stage reaches the ServiceNow instance that holds the change request (the policy's itsm section says when)."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods

    DOCUMENTATION = r"""
options:
  servicenow:
    description:
      - The ServiceNow instance and credentials. Every key defaults to the environment variable servicenow.itsm reads
        (C(SN_HOST), C(SN_USERNAME), C(SN_PASSWORD), C(SN_ACCESS_TOKEN)); the host falls back to the policy's
        C(itsm.instance).
      - The password and the token are only sent to the instance, in the C(Authorization) header; they are never
        returned, logged or recorded.
    type: dict
    default: {}
    suboptions:
      host:
        description: Base URL of the instance, such as C(https://example.service-now.com).
        type: str
      username:
        description: User for basic authentication (needs the C(itil) role on C(change_request)).
        type: str
      password:
        description: Password for basic authentication.
        type: str
      access_token:
        description: OAuth 2.0 access token, sent as a bearer token instead of basic authentication.
        type: str
      timeout:
        description: Seconds to wait for each API answer; defaults to the policy's C(itsm.timeout_s).
        type: float
"""
