#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the KDIR of the cached test kernel, building it first if needed.
# usage: test-kernel.sh [VARIANT]   (kcsan: the KCSAN kernel, see
# build-kernel.sh)
# build-kernel.sh restarts from scratch when it finds no finished build,
# so two of them at once would wreck each other: serialize them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TIMERRING_CACHE:-/var/cache/timerring}
mkdir -p "$cache"
exec flock "$cache/.build-kernel.lock" "$here/build-kernel.sh" "$@"
