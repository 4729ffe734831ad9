# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every device-stage action shares: how it reaches the device host, retries, and the state store.

The SSH settings themselves (user, key, ssh arguments, host key checking) come from the inventory, as for Ansible's
own ssh connection; the notes below say which.
"""

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
    description:
      - Seconds to wait for the SSH connection; an unreachable device fails with a transient device error.
      - Defaults to the host variable C(ansible_ssh_timeout) when set, else 5 (ansible.cfg's C(timeout) is left to Ansible's own connection).
    type: int
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
      - Defaults to the variable C(governed_store_dir), else C(store) in C($GOVERNED_CHANGE_OUTPUT_DIR) or in C(out) of the working directory.
    type: path
  hosts:
    description:
      - Work on these inventory hosts' devices from this one task (a fleet task; run it with C(run_once)) instead of
        on the task's own host. Every device is worked on as if the task had run on its host - its own host variables
        (platform, SSH settings, state dir, become), its own arguments - in threads, at most 32 at once.
      - The result holds every device's own result under C(hosts) (host - result), the devices that failed under
        C(failed_hosts); the task fails when one did. The C(governed.change.evidence) callback records each device's
        result as that host's task result.
      - An empty list works on no device.
    type: list
    elements: str
  by_host:
    description:
      - With O(hosts), the arguments that differ per device, a mapping of host to its options; they override the
        task's own (for example the C(pre) snapshot of M(governed.change.check)). C(hosts) and C(by_host) cannot be set
        per host.
    type: dict
notes:
  - The device host is reached with the system C(ssh) client and the host's own Ansible SSH settings, resolved as
    C(ansible.builtin.ssh) resolves them - C(ansible_user), C(ansible_ssh_private_key_file), C(ansible_ssh_common_args),
    C(ansible_ssh_extra_args) (a known_hosts file, C(ProxyJump) or C(ProxyCommand) through a bastion, ...),
    C(ansible_ssh_executable), C(ansible_ssh_timeout); host C(ansible_host), port C(governed_host_port) else C(ansible_port).
  - With C(become) (method C(sudo)) every device command runs through C(sudo -n -H -u become_user); a become password or
    another method is refused (the device stages never prompt). C(become_method=enable) is left to network_cli.
  - The device's host key is verified (C(StrictHostKeyChecking=yes)) unless host key checking is turned off on purpose
    (C(ansible_host_key_checking=false), C(ANSIBLE_HOST_KEY_CHECKING=False) or C(host_key_checking = False) in ansible.cfg);
    the result then carries C(host_key_checking=false) and a warning. ssh arguments that would undo checking while it
    is on (C(StrictHostKeyChecking=no), C(UserKnownHostsFile=/dev/null)) are refused.
  - The commands of one Ansible run to one device share one SSH connection (C(ControlMaster), C(ControlPersist) 30 s,
    socket in C(~/.ansible/cp/governed), private to the user); the host variable C(governed_ssh_control_persist) sets
    the seconds, C(0) turns sharing off.
"""
