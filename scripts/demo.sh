#!/usr/bin/env bash
# The demo: bring the lab up, run the governed job on it through ansible-playbook, print a summary,
# and tear the lab down on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
OUT="$PWD/out/demo"
trap 'python3 lab/lab.py down' EXIT
rm -rf "$OUT"
python3 lab/lab.py up
python3 lab/lab.py wait --timeout 60

echo; echo "== 1. Back up every device and snapshot BGP / firewall state"
.venv/bin/ansible-playbook playbooks/lab_snapshot.yml -e lab_snapshot_output="$OUT/snapshot" | sed -n '/TASK \[Summary\]/,/PLAY RECAP/p' | grep "msg:" || true

echo; echo "== 2. Assess three change requests against the lab policy and the devices' real running configs"
for change in examples/changes/acl_update_fw1.yml examples/changes/bgp_core_r2.yml examples/changes/emergency_r1.yml; do
  .venv/bin/ansible-playbook playbooks/assess.yml -e governed_change_request="$PWD/$change" -e governed_output_dir="$OUT" \
    | sed -n '/TASK \[Show the risk and why\]/,/PLAY RECAP/p' | grep -v -E "^(TASK|PLAY RECAP|ok:)" | sed '/^$/d'
done

echo; echo "== 3. The change ledger"
.venv/bin/governed-change ledger verify --ledger "$OUT/ledger.sqlite"
echo
echo "Backups and snapshots: $OUT/snapshot"
echo "Assessments:           $OUT/assessments"
echo "Ledger:                $OUT/ledger.sqlite"
