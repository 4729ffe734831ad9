# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every device-stage action shares: how it reaches the device host, retries, and the state store."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods

    DOCUMENTATION = r"""
options:
  platform:
    description:
      - The device's platform driver; defaults to the host variable C(governed_platform).
    type: str
    choices: [frr, linux]
  state_dir:
    description:
      - Absolute folder on the device host for the backup file and the commit-confirmed timer's markers.
      - Defaults to the host variable C(governed_state_dir), else C($FRR_VTY_DIR/governed) (frr) or C(/var/lib/governed-change) (linux).
    type: str
  port:
    description:
      - SSH port of the device host's shell; defaults to C(governed_host_port), else C(ansible_port).
    type: int
  connect_timeout:
    description: Seconds to wait for the SSH connection; an unreachable device fails with a transient device error.
    type: int
    default: 5
  retries:
    description:
      - How many times a connection failure (ssh exit 255 before the command ran) is retried, with exponential backoff.
      - Auth or host-key refusals, command failures and sessions that broke mid-command are never retried.
    type: int
    default: 2
  retry_delay:
    description: Seconds before the first retry; each further retry waits twice as long (at most 30 s per wait).
    type: float
    default: 1.0
  command_timeout:
    description: Seconds one device command may take.
    type: int
    default: 60
  store_dir:
    description:
      - Folder of the content-addressed state store on the controller (big state travels by reference).
      - Defaults to the variable C(governed_store_dir), else C(<playbook_dir>/../out/store).
    type: path
"""
