#!/usr/bin/env bash
# All the tests: unit tests (in-process, no subprocess of Ansible), functional tests (ansible-playbook,
# ansible-runner, ansible-builder and the installed governed-change command as subprocesses, no lab),
# ansible-test sanity, ansible-lint (production profile), the release checks (scripts/importer.sh), then the lab integration tests on real FRR routers
# and an nftables firewall (needs root).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
status=0
# Whatever way the suite ends, no lab instance it built is left behind (the lab modules' own, molecule's).
# shellcheck disable=SC2317  # called through the trap
teardown() {
  python3 lab/lab.py down >/dev/null 2>&1 || true
  GC_LAB_PREFIX=mo- GC_LAB_PORT_BASE=30800 GC_LAB_RUN=/tmp/gc-mo python3 lab/lab.py down >/dev/null 2>&1 || true
}
trap 'teardown; rm -rf "${OUT:-}"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Each step's wall time is printed when the next begins (and in the closing line), so a slow CI run shows where.
step() {
  [ -n "${current:-}" ] && printf -- '--- (%s: %d s)\n' "$current" "$((SECONDS - started))"
  printf '\n=== %s\n' "$*"; current="$*"; started=$SECONDS
}
# What failed is repeated at the very end, since a CI log is often read from its tail: each failed step, with
# its pytest FAILED/ERROR lines (or, for a step that is not pytest, its last lines). The whole output is also
# kept in $OUT/all.log for that.
OUT="$(mktemp -d)"; failed=(); : >"$OUT/all.log"
exec > >(tee -a "$OUT/all.log") 2>&1
fail() { status=1; failed+=("$current"); }
summary() {
  local s section
  sleep 1  # tee has read everything written so far
  step "what failed"
  for s in "${failed[@]}"; do
    printf -- '--- %s\n' "$s"
    section="$(awk -v h="=== $s" '$0 == h {on = 1; next} on && /^=== / {exit} on' "$OUT/all.log")"
    if grep -qE '^(FAILED|ERROR) ' <<<"$section"; then grep -E '^(FAILED|ERROR) ' <<<"$section" | head -30
    else tail -n 15 <<<"$section"; fi
  done
}
SECONDS=0
# Unit and functional modules run two side by side (pytest-xdist, a module whole on one worker).
PAR=(-n "${GC_TEST_WORKERS:-2}" --dist loadfile)
step "unit tests";        .venv/bin/pytest tests/unit -q -p no:randomly "${PAR[@]}" || fail
# The longest functional modules go first (tests/functional/conftest.py), in collection order: no reordering by size.
step "functional tests";  .venv/bin/pytest tests/functional -q -p no:randomly "${PAR[@]}" --no-loadscope-reorder --durations=10 || fail
step "pytest-ansible: the modules through its fixtures (own invocation, inject-only: no collections/ tree)"
ANSIBLE_COLLECTIONS_PATH="$PWD/.collections" .venv/bin/pytest -p pytest-ansible --ansible-unit-inject-only tests/pytest_ansible \
  -q -p no:randomly || fail
step "ansible-test sanity"; scripts/sanity.sh || fail
step "ansible-lint";      scripts/lint.sh || fail
step "release checks: antsibull-changelog lint, galaxy-importer (Automation Hub-like)"; scripts/importer.sh --strict || fail
# Lab modules run two side by side (pytest-xdist): each builds its own lab instance (own namespace prefix and ports),
# a module never splits across workers (tests/integration/conftest.py); GC_LAB_WORKERS=1 runs them one by one.
LAB_XDIST=(-n "${GC_LAB_WORKERS:-2}" --dist loadgroup)
step "lab integration tests (${GC_LAB_WORKERS:-2} side by side)"; .venv/bin/pytest tests/integration -q "${LAB_XDIST[@]}" --durations=15 || fail
# molecule test of every stage role's scenario (extensions/molecule) on one lab instance of its own (mo-, ports 30800+),
# after the lab modules (about 3 min for the nine; scripts/molecule.sh tears its lab down on every exit path).
step "molecule: every stage role's scenario (molecule test, one lab)"; scripts/molecule.sh || fail
# No test depends on today's date: the date-sensitive tests again, with every entry point's clock moved
# (GOVERNED_CHANGE_NOW) ten years ahead and, for the unit tests, into the example policy's year-end freeze.
U=tests/unit/plugins/module_utils F=tests/functional
CALENDAR_UNIT=("$U/test_clock.py" "$F/test_gate_actions.py" "$U/test_cli.py" "$U/test_review.py" "$U/test_windows.py"
               "$U/test_assess.py" "$U/test_change_request.py" "$F/test_close_action.py" "$F/test_escalate_action.py"
               "$U/test_evidence.py" "$F/test_cli_installed.py" tests/unit/plugins/action/test_close.py)
step "calendar: unit and functional tests with the clock 10 years ahead"
GOVERNED_CHANGE_NOW=+3653d .venv/bin/pytest "${CALENDAR_UNIT[@]}" -q -p no:randomly "${PAR[@]}" || fail
step "calendar: unit and functional tests with the clock on 24 December of this year (inside a year-end freeze)"
GOVERNED_CHANGE_NOW="$(date -u -d "$(date -u +%Y)-12-24T12:00:00Z" +%Y-%m-%dT%H:%M:%SZ)" \
  .venv/bin/pytest "${CALENDAR_UNIT[@]}" -q -p no:randomly "${PAR[@]}" || fail
step "calendar: lab assess and pipeline tests with the clock 10 years ahead"
GOVERNED_CHANGE_NOW=+3653d .venv/bin/pytest tests/integration/test_assess_lab.py tests/integration/test_pipeline_lab.py -q "${LAB_XDIST[@]}" \
  -k "test_assess_lab or (ansible-playbook and (good_change or freeze))" || fail
python3 lab/lab.py down >/dev/null 2>&1 || true
[ $status = 0 ] || summary
step "test suite finished in ${SECONDS} s: $([ $status = 0 ] && echo PASSED || echo FAILED)"
exit $status
