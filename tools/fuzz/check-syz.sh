#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Does the syzkaller description cover the uapi header? Every ioctl
# (TIMERRING_IOC_X: a call ioctl$TIMERRING_IOC_X), every struct (struct
# timerring_x: a struct timerring_x { ... }) and every other TIMERRING_*
# name the header defines (#define or enum: flags, limits, sizes, shifts)
# must be used by the description, comments not counted. Prints what is
# missing and exits 1, else one line with the counts.
#
# usage: check-syz.sh UAPI_HEADER DESCRIPTION
set -euo pipefail

[ $# = 2 ] || { echo "usage: $0 UAPI_HEADER DESCRIPTION" >&2; exit 2; }
python3 - "$1" "$2" <<'EOF_PY'
import re
import sys

hdr, desc = sys.argv[1], sys.argv[2]
src = open(hdr).read()
src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
syz = '\n'.join(l.split('#', 1)[0] if not l.startswith('#') else ''
                for l in open(desc).read().splitlines())

ioctls, structs, consts = [], [], []
for m in re.finditer(r'^\s*#\s*define\s+(TIMERRING_\w+)\s+(.*)$', src, re.M):
    name, body = m.group(1), m.group(2)
    (ioctls if re.match(r'_IO[RW]*\s*\(', body) else consts).append(name)
for body in re.findall(r'\benum\s*\{(.*?)\}', src, re.S):
    consts += re.findall(r'\b(TIMERRING_\w+)\s*[=,]', body + ',')
structs = sorted(set(re.findall(r'\bstruct\s+(timerring_\w+)\s*\{', src)))

missing = []
for n in ioctls:
    if not re.search(r'\bioctl\$' + n + r'\(', syz):
        missing.append('ioctl %s (no ioctl$%s)' % (n, n))
for n in structs:
    if not re.search(r'^' + n + r'\s*[{\[]', syz, re.M):
        missing.append('struct %s' % n)
for n in sorted(set(consts)):
    if not re.search(r'\b' + n + r'\b', syz):
        missing.append('constant %s' % n)
for m in missing:
    print('# %s: %s is not in the description' % (desc, m))
if not ioctls or not structs or not consts:
    print('# %s: no ioctl, struct or constant found' % hdr)
    sys.exit(1)
if missing:
    sys.exit(1)
print('# %s covers %d ioctls, %d structs and %d constants of %s'
      % (desc, len(ioctls), len(structs), len(set(consts)), hdr))
EOF_PY
