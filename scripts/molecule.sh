#!/usr/bin/env bash
# The molecule scenarios of the stage roles (extensions/molecule/<role>: prepare, converge, idempotence where it applies,
# verify against r1 and the ledger) on ONE lab instance brought up here and torn down on every exit path.
#   scripts/molecule.sh                 every scenario (molecule test --all)
#   scripts/molecule.sh deploy verify   only these scenarios
# Lab instance: GC_LAB_PREFIX/GC_LAB_PORT_BASE/GC_LAB_RUN (default mo-, 30800, /tmp/gc-mo). Outputs: GC_MOLECULE_DIR.
# Nothing is copied into ~/.ansible/collections: the scenarios set prerun: false and ANSIBLE_COLLECTIONS_PATH=.collections.
set -euo pipefail
cd "$(dirname "$0")/.."
export GC_LAB_PREFIX="${GC_LAB_PREFIX:-mo-}" GC_LAB_PORT_BASE="${GC_LAB_PORT_BASE:-30800}" GC_LAB_RUN="${GC_LAB_RUN:-/tmp/gc-mo}"
export GC_MOLECULE_DIR="${GC_MOLECULE_DIR:-/tmp/gc-molecule}"
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.collections"
unset GOVERNED_CHANGE_LEDGER GOVERNED_CHANGE_OUTPUT_DIR ANSIBLE_CONFIG  # as `make molecule` whether or not scripts/test.sh runs it
# shellcheck disable=SC2317  # called through the trap
cleanup() { python3 lab/lab.py down >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM  # a signal ends the script through the EXIT trap: the lab is torn down on every exit path
SECONDS=0
rm -rf "$GC_MOLECULE_DIR"
mkdir -p "$GC_MOLECULE_DIR/keys" "$GC_MOLECULE_DIR/policy"
# alice (netops) approves; the policy copy trusts her key and has its freezes placed after today (as the demo's).
ssh-keygen -q -t ed25519 -N '' -C alice@lab -f "$GC_MOLECULE_DIR/keys/alice"
printf 'alice@lab namespaces="governed.change" %s\n' "$(cut -d' ' -f1,2 "$GC_MOLECULE_DIR/keys/alice.pub")" \
  > "$GC_MOLECULE_DIR/policy/allowed_signers"
python scripts/relative_policy.py examples/policy/policy.yml "$GC_MOLECULE_DIR/policy/policy.yml" >/dev/null
python3 lab/lab.py up >/dev/null
python3 lab/lab.py wait --timeout 60
lab_s=$SECONDS
# In pipeline order, each scenario to its end whatever the others did; r1 is back to its backup after each
# (the scenarios that leave the change on r1 roll it back in their cleanup).
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(assess review window precheck deploy verify rollback close escalate)
status=0 failed=()
for scenario in "${SCENARIOS[@]}"; do
  start=$SECONDS
  # A fresh start: molecule keeps "prepared" in the scenario's ephemeral state, and a scenario without a destroy
  # playbook (managed: false) never clears it, so a second run would skip prepare.
  molecule reset -s "$scenario" >/dev/null 2>&1 || true
  if molecule test -s "$scenario"; then verdict=passed; else verdict=FAILED; status=1; failed+=("$scenario"); fi
  echo "molecule: scenario $scenario $verdict in $((SECONDS - start)) s"
  # A scenario that failed half-way may leave its change on r1 (its cleanup may not have run or not have restored r1):
  # the next scenario starts from a freshly built lab (lab.py up clears the old one first, about 5 s).
  if [ "$verdict" = FAILED ]; then python3 lab/lab.py up >/dev/null && python3 lab/lab.py wait --timeout 60; fi
done
echo "molecule: ${#SCENARIOS[@]} scenario(s), $([ $status = 0 ] && echo "all passed" || echo "FAILED: ${failed[*]}")" \
     "in $((SECONDS - lab_s)) s (lab up in ${lab_s} s, ${SECONDS} s in all)"
exit $status
