# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Device drivers by platform name: a new vendor is one module here plus a snapshot profile."""

from __future__ import annotations

from ansible_collections.governed.change.plugins.module_utils.errors import ValidationError
from ansible_collections.governed.change.plugins.module_utils.platforms.frr import FrrPlatform
from ansible_collections.governed.change.plugins.module_utils.platforms.linux import LinuxPlatform

PLATFORMS = {"frr": FrrPlatform, "linux": LinuxPlatform}


def get_platform(name):
    """The driver class of a platform name (inventory var ``governed_platform``)."""
    if name not in PLATFORMS:
        raise ValidationError("unknown platform %r." % (name,), where="governed_platform",
                              fix="set governed_platform to one of: %s." % ", ".join(sorted(PLATFORMS)))
    return PLATFORMS[name]
