#!/usr/bin/env bash
# The demo: bring the lab up, run the governed job on it through ansible-playbook, print a summary,
# and tear the lab down on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
trap 'python3 lab/lab.py down' EXIT
python3 lab/lab.py up
python3 lab/lab.py wait --timeout 60
.venv/bin/ansible-playbook playbooks/lab_snapshot.yml
echo "Backups and snapshots: $PWD/out/snapshot"
