# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real OpenSSH signing keys for approval tests (no tests here)."""

from __future__ import annotations

import subprocess


def make_signing_keys(base, keys, unlisted=()):
    """An ed25519 key per name in ``keys`` (name -> principal) at ``base/<name>``, made by ssh-keygen, and
    ``base/allowed_signers`` trusting each principal for the governed.change namespace except the names in
    ``unlisted``; returns the allowed_signers path as a string."""
    lines = []
    for name, principal in keys.items():
        path = str(base / name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", path], check=True)
        if name not in unlisted:
            with open(path + ".pub", encoding="utf-8") as handle:
                lines.append('%s namespaces="governed.change" %s' % (principal, handle.read().strip()))
    signers = str(base / "allowed_signers")
    with open(signers, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return signers
