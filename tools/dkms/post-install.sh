#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the access rule of /dev/timerring: the system group "timerring"
# and the udev rule that gives the device to it (mode 0660). DKMS runs
# this after each install of the module (POST_INSTALL in dkms.conf, from
# the package's source tree); `make install` runs it with DESTDIR. With
# DESTDIR set only the rule is copied into DESTDIR: no group, no udev.
# Idempotent.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rule=$here/../udev/60-timerring.rules
destdir=${DESTDIR:-}

install -D -m 644 "$rule" "$destdir/usr/lib/udev/rules.d/60-timerring.rules"
[ -z "$destdir" ] || exit 0

getent group timerring >/dev/null || groupadd --system timerring
# New rules apply to a device node only when it is (re)created or
# re-triggered: reload them, and re-apply them to a loaded module's node.
if command -v udevadm >/dev/null; then
	udevadm control --reload || true
	[ ! -e /sys/class/misc/timerring ] ||
		udevadm trigger --action=change /sys/class/misc/timerring || true
fi
