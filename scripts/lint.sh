#!/usr/bin/env bash
# Offline, reproducible `ansible-lint --profile production` for governed.change, then the complexity check of
# plugins/ (scripts/complexity.sh: no block above radon grade C).
#
#   scripts/lint.sh                 # whole project (configuration in .ansible-lint)
#   scripts/lint.sh playbooks/x.yml # extra arguments go to ansible-lint (the complexity check still covers plugins/)
#
# ANSIBLE_COLLECTIONS_PATH points at the project-local .collections (see scripts/setup.sh), which holds
# the dependency collections and governed/change -> repo root, so FQCNs of this collection resolve.
# --offline keeps ansible-lint from contacting Galaxy (unreachable) to install requirements.
# Exit status: ansible-lint's (0 clean, 2 violations, other = error); 0 from ansible-lint but a block above grade C
# gives 1 (complexity.sh's status).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '[lint] %s\n' "$*" >&2; }
SECONDS=0

[ -x "$ROOT/.venv/bin/ansible-lint" ] || { say "missing .venv/bin/ansible-lint - run scripts/setup.sh first"; exit 2; }
[ -d "$ROOT/.collections/ansible_collections" ] || { say "missing .collections - run scripts/setup.sh first"; exit 2; }

export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
# Keep ansible-lint's own cache (it writes .ansible/ into the project) out of the tree's way.
export ANSIBLE_HOME="${ANSIBLE_HOME:-$ROOT/.cache/ansible-home}"
# ansible-lint warns when it has to prepend the venv to PATH itself.
export PATH="$ROOT/.venv/bin:$PATH"
export NO_COLOR=1

rc=0
ansible-lint --profile production --offline --config-file "$ROOT/.ansible-lint" "$@" || rc=$?
complexity=0
"$ROOT/scripts/complexity.sh" plugins/ || complexity=$?
[ "$rc" -ne 0 ] || rc=$complexity
say "finished in ${SECONDS} s with exit status $rc"
exit "$rc"
