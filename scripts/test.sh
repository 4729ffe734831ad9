#!/usr/bin/env bash
# All the tests: unit tests of the core, ansible-test sanity, ansible-lint (production profile),
# then the lab integration tests on real FRR routers and an nftables firewall (needs root).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
status=0
step() { printf '\n=== %s\n' "$*"; }
SECONDS=0
step "unit tests";        .venv/bin/pytest tests/unit -q -p no:randomly || status=1
step "ansible-test sanity"; scripts/sanity.sh || status=1
step "ansible-lint";      scripts/lint.sh || status=1
step "lab integration tests"; .venv/bin/pytest tests/integration -q || status=1
python3 lab/lab.py down >/dev/null 2>&1 || true
step "test suite finished in ${SECONDS} s: $([ $status = 0 ] && echo PASSED || echo FAILED)"
exit $status
