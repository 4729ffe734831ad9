#!/usr/bin/env bash
# Offline, reproducible `ansible-test sanity` for governed.change.
#
#   scripts/sanity.sh                      # all sanity tests
#   scripts/sanity.sh --test pylint -v     # extra arguments go to ansible-test
#
# 1. The collection's files (git-tracked + untracked-not-ignored) are copied fresh into
#    .build/sanity/ansible_collections/governed/change, because ansible-test must run from inside an
#    ansible_collections/<ns>/<name> tree and must only see project files (not .venv/.collections/...).
# 2. The dependency collections (ansible.*, awx.awx, frr.frr from .collections, see setup.sh) are
#    symlinked beside it; ansible-test puts that ansible_collections root on the collections path, so
#    imports of other collections resolve.
# 3. ansible-test bootstraps pip in every sanity virtualenv with a get-pip script downloaded from
#    ci-files.testing.ansible.com (unreachable here) and cached as ~/.ansible/test/cache/get_pip_<ver>.py
#    (ansible_test/_util/target/setup/requirements.py: bootstrap()). We install a stand-in under that
#    name that runs pip from the wheel bundled with Python (ensurepip) or Debian's
#    /usr/share/python-wheels; it then installs the pinned pip and the sanity requirements from PyPI.
# 4. `--venv` (not `--local`): each sanity test gets its own virtualenv with ansible-test's pinned
#    requirements (pylint, pycodestyle, yamllint, voluptuous, ...), independent of what .venv holds;
#    with the stand-in above this works offline (PyPI only). The virtualenvs are cached in
#    ~/.ansible/test/venv, so only the first run is slow.
# Exit status: ansible-test's (non-zero on any sanity failure).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '[sanity] %s\n' "$*" >&2; }
SECONDS=0

ANSIBLE_TEST="$ROOT/.venv/bin/ansible-test"
[ -x "$ANSIBLE_TEST" ] || { say "missing $ANSIBLE_TEST - run scripts/setup.sh first"; exit 2; }
[ -d "$ROOT/.collections/ansible_collections" ] || { say "missing .collections - run scripts/setup.sh first"; exit 2; }
git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 || { say "$ROOT is not a git work tree"; exit 2; }

# Without shellcheck the shellcheck sanity test is skipped with only a warning, so install it (Debian).
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian package shellcheck (needed by the shellcheck sanity test)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1; }; } \
      || say "warning: could not install shellcheck; the shellcheck sanity test will be skipped"
  else
    say "warning: shellcheck is not installed; the shellcheck sanity test will be skipped"
  fi
fi

# --- 1. fresh copy of the collection ---------------------------------------------------------------
BUILD="$ROOT/.build/sanity"
DEST="$BUILD/ansible_collections/governed/change"
rm -rf "$BUILD"
mkdir -p "$DEST"
# -c also lists tracked files deleted in the work tree; keep only the ones that exist.
git ls-files -z -co --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar -c --null --no-recursion -T - -f - \
  | tar -x -f - -C "$DEST"
# ansible-test lists content with `git ls-files` of the nearest enclosing .git; without one of its own the
# copy would be seen through /work/main/.git, where .build/ is ignored ("All targets skipped").
git -C "$DEST" init -q
# ansible-test writes its delegation virtualenv to tests/output/.tmp; it must never count as content
# (independently of what the project's .gitignore says).
printf 'tests/output/\n' >> "$DEST/.git/info/exclude"

# --- 2. dependency collections beside it -------------------------------------------------------------
for ns in ansible awx frr; do
  if [ -d "$ROOT/.collections/ansible_collections/$ns" ]; then
    ln -sfn "$ROOT/.collections/ansible_collections/$ns" "$BUILD/ansible_collections/$ns"
  else
    say "warning: .collections/ansible_collections/$ns missing (run scripts/setup.sh)"
  fi
done

# --- 3. offline stand-in for ansible-test's get-pip bootstrap script ----------------------------------
# The pip version (and therefore the cache file name get_pip_<X_Y>.py) is taken from ansible-test itself.
PIP_VERSION=$("$ROOT/.venv/bin/python" - <<'PY'
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version='3.11'))['pip'])
PY
)
CACHE_DIR="$HOME/.ansible/test/cache"
GET_PIP="$CACHE_DIR/get_pip_${PIP_VERSION//./_}.py"
MARKER='governed.change offline get-pip stand-in'
mkdir -p "$CACHE_DIR"
# Never overwrite a real get-pip script (e.g. downloaded on a machine with internet access).
if [ ! -e "$GET_PIP" ] || grep -q "$MARKER" "$GET_PIP"; then
  tmp="$GET_PIP.tmp.$$"
  cat > "$tmp" <<PY
# $MARKER (written by scripts/sanity.sh).
# ansible-test runs this as get-pip.py: python <this> [pip install args] [--no-setuptools] [--no-wheel].
# Like the real get-pip.py, run "pip install --upgrade --force-reinstall <args>", but with pip
# imported from a local wheel instead of one embedded in the script.
import glob
import os
import sys


def _wheels():
    found = []
    try:
        import ensurepip
        found += glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))
    except ImportError:
        pass
    found += glob.glob('/usr/share/python-wheels/pip-*.whl')

    def key(path):
        ver = os.path.basename(path).split('-')[1]
        return tuple(int(p) if p.isdigit() else 0 for p in ver.split('.'))

    return sorted(found, key=key, reverse=True)


def main():
    wheels = _wheels()
    if not wheels:
        sys.stderr.write('offline get-pip stand-in: no pip wheel found in ensurepip/_bundled or /usr/share/python-wheels\n')
        return 1
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    sys.path.insert(0, wheels[0])
    from pip._internal.cli.main import main as pip_main
    return pip_main(['install', '--upgrade', '--force-reinstall'] + args)


if __name__ == '__main__':
    sys.exit(main())
PY
  mv "$tmp" "$GET_PIP"
fi

# --- 4. run -----------------------------------------------------------------------------------------
cd "$DEST"
say "ansible-test sanity in $DEST (copy took ${SECONDS} s)"
rc=0
PATH="$ROOT/.venv/bin:$PATH" "$ANSIBLE_TEST" sanity --python 3.11 --venv --color no "$@" || rc=$?
say "finished in ${SECONDS} s with exit status $rc"
exit "$rc"
