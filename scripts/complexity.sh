#!/usr/bin/env bash
# Cyclomatic complexity of the collection's Python, measured with radon (pinned in requirements-test.txt).
#
#   scripts/complexity.sh              # plugins/ (what `make lint` checks)
#   scripts/complexity.sh DIR|FILE...  # other paths
#
# Fails (exit 1) when any block (function, method, class) is graded D or worse, i.e. a cyclomatic complexity above
# 20 (`radon cc -n D` prints nothing when clean); the fix is to split the block into named rules, one function each.
# Prints the offending blocks and the average of all blocks. Exit status: 0 clean, 1 blocks above grade C, 2 error.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[complexity] %s\n' "$*" >&2; }
RADON=.venv/bin/radon
[ -x "$RADON" ] || { say "missing $RADON - run scripts/setup.sh first (radon is in requirements-test.txt)"; exit 2; }
[ $# -gt 0 ] || set -- plugins/
for path in "$@"; do
  [ -e "$path" ] || { say "no such file or directory: $path"; exit 2; }
done

over=$("$RADON" cc --show-complexity --min D "$@")
average=$("$RADON" cc --total-average --show-complexity "$@" | grep '^Average complexity:' || true)
[ -n "$average" ] || { say "radon printed no average for $* (no Python files?)"; exit 2; }
say "$* - ${average}"
if [ -n "$over" ]; then
  printf '%s\n' "$over"
  say "blocks above grade C (complexity > 20): $(printf '%s\n' "$over" | grep -cE '^ +[FMC] ') - split each into named rules (docs/contributing.md)"
  exit 1
fi
say "no block above grade C"
