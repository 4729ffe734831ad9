"""Extract pinned collections from the `ansible` wheels on PyPI into .collections/ (idempotent)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEST = os.path.join(ROOT, ".collections", "ansible_collections")
CACHE = os.path.join(ROOT, ".cache", "wheels")


def wanted():
    rows = []
    with open(os.path.join(ROOT, "requirements-collections.txt"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                wheel_version, fqcn, version = line.split()
                rows.append((wheel_version, fqcn, version))
    return rows


def installed_version(fqcn):
    ns, name = fqcn.split(".")
    manifest = os.path.join(DEST, ns, name, "MANIFEST.json")
    try:
        with open(manifest, encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        return None


def wheel_path(version):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "ansible-%s-py3-none-any.whl" % version)
    if not os.path.exists(path):
        print("[setup] downloading ansible==%s wheel from PyPI (collections only are used)" % version)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "ansible==%s" % version, "-d", CACHE], check=True)
    return path


def extract(wheel, fqcn):
    ns, name = fqcn.split(".")
    prefix = "ansible_collections/%s/%s/" % (ns, name)
    target = os.path.join(DEST, ns, name)
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(prefix) and not member.endswith("/"):
                archive.extract(member, os.path.join(ROOT, ".collections"))


def main():
    todo = [(w, f, v) for (w, f, v) in wanted() if installed_version(f) != v]
    if not todo:
        print("[setup] collections up to date")
        return 0
    for wheel_version, fqcn, version in todo:
        extract(wheel_path(wheel_version), fqcn)
        got = installed_version(fqcn)
        if got != version:
            print("[setup] %s: expected %s in ansible==%s, found %s" % (fqcn, version, wheel_version, got))
            return 1
        print("[setup] %s %s" % (fqcn, got))
    return 0


if __name__ == "__main__":
    sys.exit(main())
