# -*- coding: utf-8 -*-
# Copyright: governed.change contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX workflow templates offline: schema from awx.awx's documentation, graph rules, and a local runner."""

from __future__ import annotations
