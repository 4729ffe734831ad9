#!/usr/bin/env bash
# Release checks (issue 14), run by `make test` and `make importer`:
#   1. antsibull-changelog lint (the fragments and changelogs/changelog.yaml);
#   2. galaxy-importer with Automation Hub-like settings (scripts/galaxy-importer.cfg: ansible-lint and flake8 on,
#      version >= 1.0.0 and the changelog required, ansible-test and containers off) on the collection tarball built
#      the way a release is (ansible-galaxy collection build, galaxy.yml's build_ignore applied).
# The tools live in their own virtualenv (.cache/importer-venv, pinned in requirements-importer.txt): galaxy-importer
# pins an older attrs than the test toolchain. Its ansible-lint resolves the dependency collections from the offline set
# in .collections (make setup), linked into that virtualenv's site-packages.
# Exit 1 when the importer logs an error (or, with --strict, a warning); the counts are printed either way.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
VENV=.cache/importer-venv
STRICT=0
[ "${1:-}" = "--strict" ] && STRICT=1
say() { printf '[importer] %s\n' "$*"; }

stamp=$(sha256sum requirements-importer.txt requirements.txt | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  say "creating $VENV (requirements-importer.txt)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || exit 2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-importer.txt 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import galaxy_importer, antsibull_changelog" || exit 2
  echo "$stamp" > "$VENV/.stamp"
fi
site=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
mkdir -p "$site/ansible_collections"
for ns in ansible awx frr; do
  [ -d ".collections/ansible_collections/$ns" ] && ln -sfn "$ROOT/.collections/ansible_collections/$ns" "$site/ansible_collections/$ns"
done

status=0
say "antsibull-changelog lint"
"$VENV/bin/antsibull-changelog" lint || status=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/ansible-galaxy" collection build --output-path "$work" . >/dev/null || exit 2
tarball=$(ls "$work"/governed-change-*.tar.gz)
say "galaxy-importer on $(basename "$tarball")"
(cd "$work" && PATH="$ROOT/$VENV/bin:$PATH" GALAXY_IMPORTER_CONFIG="$ROOT/scripts/galaxy-importer.cfg" \
  "$ROOT/$VENV/bin/python" -m galaxy_importer.main "$tarball" > importer.log 2>&1)
rc=$?
errors=$(grep -c "^ERROR" "$work/importer.log")
warnings=$(grep -c "^WARNING" "$work/importer.log")
grep "^ERROR\|^WARNING" "$work/importer.log"
say "galaxy-importer: exit $rc, $errors errors, $warnings warnings"
if [ "$rc" != 0 ] || [ "$errors" != 0 ] || { [ "$STRICT" = 1 ] && [ "$warnings" != 0 ]; }; then
  status=1
fi
exit $status
