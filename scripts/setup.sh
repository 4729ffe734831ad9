#!/usr/bin/env bash
# One-command, idempotent set-up of everything governed.change needs on Debian 12 (as root):
# Debian packages for the lab, the pinned Python toolchain in .venv, and the collections from the
# `ansible` wheels on PyPI (Ansible Galaxy is not reachable) in the project-local .collections path.
# A second run only checks stamps and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
say() { printf '[setup] %s\n' "$*"; }
SECONDS=0

# 1. Debian packages (the lab's routers, sshd, nftables; chromium for the report test; sudo for the become test;
#    openjdk-17-jre-headless: the Java 17 runtime ansible-rulebook's Drools engine needs for the EDA test).
APT_PKGS=(frr frr-pythontools openssh-server nftables iproute2 iputils-ping chromium shellcheck make sudo openjdk-17-jre-headless)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]} - run this as root (the lab needs root anyway)"; exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# 1b. PostgreSQL 15 for the PostgreSQL ledger tests. The tests start a throwaway cluster of their own
# (tests/support/pg_server.py): no main cluster is created and no system-wide server is started.
if ! dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian package postgresql-15 - run this as root"; exit 1
  fi
  say "installing postgresql-15 (no main cluster)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
  sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
else
  say "postgresql-15 present"
fi

# 2. The pinned Python toolchain.
req_stamp=$(cat requirements.txt requirements-test.txt | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.stamp 2>/dev/null)" != "$req_stamp" ]; then
  say "creating .venv with the pinned toolchain"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import ansible, ansible_runner, netaddr, jmespath, dateutil, yaml, pytest, psycopg" 
  .venv/bin/ansible-rulebook --version >/dev/null  # EDA (docs/eda.md): finds the Java 17 runtime installed above
  echo "$req_stamp" > .venv/.stamp
else
  say ".venv up to date"
fi

# 3. Collections from the `ansible` wheels on PyPI (versions pinned in requirements-collections.txt).
.venv/bin/python scripts/fetch_collections.py

# 4. This collection, visible under its FQCN, and the governed-change command in the venv.
mkdir -p .collections/ansible_collections/governed
ln -sfn ../../.. .collections/ansible_collections/governed/change
cat > .venv/bin/governed-change <<WRAP
#!/usr/bin/env bash
export PYTHONPATH="$ROOT/.collections\${PYTHONPATH:+:\$PYTHONPATH}"
exec "$ROOT/.venv/bin/python" -m ansible_collections.governed.change.plugins.module_utils.cli "\$@"
WRAP
chmod +x .venv/bin/governed-change
say "done in ${SECONDS} s"
