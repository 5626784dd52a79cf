#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the results of the timerring test bench.

    parse-results.py --vm DIR [--name NAME] [--status RC]
        one VM run: DIR/results.log (ttyS1) and DIR/console.log (ttyS0)
    parse-results.py --legs FILE
        every leg of `make check`, one per line of FILE, tab separated:
        NAME  KIND  STATUS  PATH  SECONDS
        KIND "vm":   PATH is a VM run dir, STATUS run-vm's exit status
        KIND "step": PATH is a log, STATUS the step's exit status; counts
                     as one test, or as the "N passed, N failed" line the
                     log ends with, if it has one

Prints a per-test summary and, as its last line, "N passed, N failed"
(", N skipped" when some were). Exits 1 if anything failed.
"""
import argparse
import os
import re
import signal
import sys

RESULT = re.compile(r'^(\s*)(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$')
PLAN = re.compile(r'^(\s*)1\.\.(\d+)')
TOTALS = re.compile(r'^(?:\w+:\s*)?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$')
BEGIN = re.compile(r'^##### BEGIN (\S+) (.*)$')
END = re.compile(r'^##### END (\S+) (.*) rc=(-?\d+)$')
CHECK = re.compile(r'^##### CHECK (ok|fail) (.*)$')
DONE = '##### TIMERRING-DONE'
BASELINE = 'timerring-guest: kmemleak baseline'

# Kernel log lines that mean a failure, and the ones only worth a warning.
FAIL_SIGS = [
    (re.compile(r'\bBUG: KCSAN: '), 'KCSAN'),
    (re.compile(r'\bBUG: '), 'BUG'),
    (re.compile(r'kernel BUG at'), 'BUG'),
    (re.compile(r'------------\[ cut here \]------------'), 'WARNING'),
    (re.compile(r'\bWARNING: '), 'WARNING'),
    (re.compile(r'\bKASAN\b'), 'KASAN'),
    (re.compile(r'\bUBSAN\b'), 'UBSAN'),
    (re.compile(r'\bKFENCE\b'), 'KFENCE'),
    (re.compile(r'possible circular locking'), 'lockdep'),
    (re.compile(r'inconsistent lock state'), 'lockdep'),
    (re.compile(r'possible recursive locking'), 'lockdep'),
    (re.compile(r'suspicious RCU usage'), 'lockdep'),
    (re.compile(r'Kernel panic'), 'panic'),
    (re.compile(r'\bOops\b|general protection fault'), 'oops'),
    (re.compile(r'soft lockup'), 'soft lockup'),
    (re.compile(r'hard LOCKUP'), 'hard lockup'),
    (re.compile(r'hung task|blocked for more than \d+ seconds'), 'hung task'),
    (re.compile(r'rcu: INFO: .*detected stalls'), 'RCU stall'),
    (re.compile(r'ODEBUG:'), 'debugobjects'),
    (re.compile(r'list_(add|del) corruption'), 'list corruption'),
    (re.compile(r'refcount_t: '), 'refcount'),
    (re.compile(r'kmemleak: \d+ new suspected memory leaks'), 'kmemleak'),
    (re.compile(r'unreferenced object 0x'), 'kmemleak'),
]
WARN_SIGS = [
    (re.compile(r'Call Trace'), 'Call Trace'),
    (re.compile(r'segfault at|traps: .* general protection'), 'user fault'),
]
# Lines that match a signature but are not a kernel problem.
BENIGN = [
    re.compile(r'Spectre V2 : WARNING: Unprivileged eBPF'),
    re.compile(r'module verification failed'),
    re.compile(r'KASAN.*(initialized|enabled)|kasan: KernelAddressSanitizer initialized'),
    re.compile(r'KFENCE: initialized'),
    re.compile(r'kmemleak: Kernel memory leak detector'),
    re.compile(r'kmemleak: Automatic memory scanning'),
    re.compile(r'UBSAN: .*(enabled|initialized)'),
    re.compile(r'hung_task|soft lockup detector|Lockup detector'),
]


class Counter:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.lines = []

    def add(self, status, name, why=''):
        if status == 'ok':
            self.passed += 1
            tag = 'PASS'
        elif status == 'skip':
            self.skipped += 1
            tag = 'SKIP'
        else:
            self.failed += 1
            tag = 'FAIL'
        self.lines.append('  %-4s %s%s' % (tag, name, ('  (' + why + ')') if why else ''))

    def merge(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.lines += other.lines

    def totals(self):
        s = '%d passed, %d failed' % (self.passed, self.failed)
        if self.skipped:
            s += ', %d skipped' % self.skipped
        return s


def read(path):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return None
    return data.decode('utf-8', 'replace').replace('\r', '')


# kselftest harness chatter that says nothing about a failure.
RUNLINE = re.compile(r'^#\s+(RUN|OK|FAIL)\s|^#\s*Starting \d+ tests|^K?TAP version')
SUBTEST = re.compile(r'^(\s*)#\s*Subtest:\s*(\S+)')


def tap_results(lines):
    """Every result line as [depth, ok, num, name, directive, leaf, path],
    and the plans as (depth, count). In (K)TAP a parent's result follows
    its subtests, so a result is a leaf unless the result just before it is
    nested deeper. path: the "# Subtest:" names enclosing the result."""
    results = []
    plans = []
    headers = {}  # depth -> name of the subtest whose results are at depth
    diag = []     # lines since the previous result: what a failure said
    for line in lines:
        line = line.replace('\t', '    ')
        m = SUBTEST.match(line)
        if m:
            headers[len(m.group(1))] = m.group(2)
            continue
        m = RESULT.match(line)
        if m:
            depth = len(m.group(1))
            path = [headers[d] for d in sorted(headers) if d <= depth]
            results.append([depth, m.group(2) == 'ok', m.group(3),
                            m.group(4).strip(), (m.group(5) or '').strip(), True, path,
                            diag])
            diag = []
            for d in [d for d in headers if d > depth]:
                del headers[d]
            continue
        m = PLAN.match(line)
        if m:
            plans.append((len(m.group(1)), int(m.group(2))))
            continue
        if line.strip():
            diag.append(line.strip())
    for i in range(1, len(results)):
        if results[i - 1][0] > results[i][0]:
            results[i][5] = False
    return results, plans


def count_tap(c, prefix, lines, rc=None, kind='test'):
    results, plans = tap_results(lines)
    failed_before = c.failed
    section = prefix.split(': ', 1)[-1]
    for i, (depth, ok, num, name, directive, leaf, path, diag) in enumerate(results):
        path = [p for p in path if p != section]
        label = '.'.join([prefix] + path + [name or ('#' + (num or '?'))])
        d = directive.upper()
        if leaf:
            if d.startswith('SKIP') or (not ok and d.startswith('TODO')):
                c.add('skip', label, directive)
            elif ok:
                c.add('ok', label)
            else:
                c.add('fail', label, directive)
                for l in [l for l in diag if not RUNLINE.match(l)][-6:]:
                    c.lines.append('       | ' + l)
        elif not ok and not d.startswith('SKIP'):
            # A failed parent whose subtests all passed still failed.
            j = i - 1
            child_failed = False
            while j >= 0 and results[j][0] > depth:
                if not results[j][1] and not results[j][4].upper().startswith('SKIP'):
                    child_failed = True
                j -= 1
            if not child_failed:
                c.add('fail', label, 'parent result not ok')
    top = min([p[0] for p in plans] + [r[0] for r in results]) if (plans or results) else 0
    top_results = [r for r in results if r[0] == top]
    top_plan = [p[1] for p in plans if p[0] == top]
    if top_plan and len(top_results) < top_plan[0]:
        c.add('fail', prefix, 'plan 1..%d but %d results: crashed or killed'
              % (top_plan[0], len(top_results)))
    if kind == 'kunit' and not results:
        c.add('fail', prefix, 'no KTAP results')
    if rc is None:
        return
    if rc == 137:
        c.add('fail', prefix, 'killed by the per-test timeout')
    elif rc == 4 and not results:
        c.add('skip', prefix, 'whole program skipped (exit 4)')
    elif rc not in (0, 4) and c.failed == failed_before:
        c.add('fail', prefix, 'exit status %d' % rc)
    elif rc == 0 and not results:
        c.add('ok', prefix, 'no TAP output, exit 0')


def scan_kernel_log(text, after_baseline=True):
    fails, warns = [], []
    if text is None:
        return fails, warns
    seen_baseline = BASELINE not in text
    for line in text.splitlines():
        if BASELINE in line:
            seen_baseline = True
        if any(b.search(line) for b in BENIGN):
            continue
        for rx, what in FAIL_SIGS:
            if rx.search(line):
                if what == 'kmemleak' and not seen_baseline:
                    break
                fails.append((what, line.strip()))
                break
        else:
            for rx, what in WARN_SIGS:
                if rx.search(line):
                    warns.append((what, line.strip()))
                    break
    return fails, warns


def parse_vm(path, name, status=None):
    c = Counter()
    res = read(os.path.join(path, 'results.log'))
    con = read(os.path.join(path, 'console.log'))
    if res is None:
        c.add('fail', name + ': results', 'no results.log')
        res = ''
    lines = res.split('\n')
    cur = None
    body = []
    done = False
    dmesg = []
    open_section = None
    for line in lines:
        if line.strip() == DONE:
            done = True
            continue
        m = CHECK.match(line)
        if m and cur is None:
            c.add('ok' if m.group(1) == 'ok' else 'fail', '%s: guest.%s' % (name, m.group(2)))
            continue
        m = BEGIN.match(line)
        if m and cur is None:
            cur = (m.group(1), m.group(2))
            body = []
            open_section = cur
            continue
        m = END.match(line)
        if m and cur is not None and (m.group(1), m.group(2)) == cur:
            kind, sname = cur
            rc = int(m.group(3))
            prefix = '%s: %s' % (name, sname)
            if kind == 'kunit':
                count_tap(c, prefix, body, kind='kunit')
            elif kind == 'test':
                count_tap(c, prefix, body, rc=rc)
            elif kind == 'kmemleak':
                leaks = [l for l in body if 'unreferenced object' in l]
                if leaks:
                    c.add('fail', name + ': kmemleak', '%d unreferenced objects' % len(leaks))
                    for l in body[:60]:
                        c.lines.append('       | ' + l)
                else:
                    c.add('ok', name + ': kmemleak')
            elif kind == 'dmesg':
                dmesg = body
            cur = None
            open_section = None
            continue
        if cur is not None:
            body.append(line)
    if open_section is not None:
        kind, sname = open_section
        prefix = '%s: %s' % (name, sname)
        if kind in ('test', 'kunit'):
            count_tap(c, prefix, body, kind=kind)
        c.add('fail', prefix, '%s section cut short (crash or timeout)' % kind)
    # Kernel log: console (covers a crash) plus the dmesg dump.
    fails, warns = scan_kernel_log(con)
    f2, w2 = scan_kernel_log('\n'.join(dmesg))
    seen = set(l for _, l in fails)
    fails += [x for x in f2 if x[1] not in seen]
    if fails:
        c.add('fail', name + ': kernel log clean', ', '.join(sorted(set(w for w, _ in fails))))
        for what, l in fails[:40]:
            c.lines.append('       | ' + l)
        if con:
            # Show the first oops/panic report in full: it says the most.
            cl = con.splitlines()
            for i, l in enumerate(cl):
                if any(rx.search(l) for rx, _ in FAIL_SIGS) and not any(b.search(l) for b in BENIGN):
                    c.lines.append('       console.log from line %d:' % (i + 1))
                    for x in cl[i:i + 40]:
                        c.lines.append('       > ' + x)
                    break
    else:
        c.add('ok', name + ': kernel log clean')
    for what, l in warns[:5]:
        c.lines.append('  WARN %s: %s: %s' % (name, what, l))
    if c.failed:
        c.lines.append('       details: %s/results.log (tests), %s/console.log (kernel)'
                       % (path, path))
    if not done:
        why = 'end marker missing: the guest crashed, panicked or timed out'
        if status == 124:
            why = 'VM timed out'
        c.add('fail', name + ': completed', why)
    else:
        c.add('ok', name + ': completed')
    return c


def parse_step(name, status, log):
    c = Counter()
    text = read(log) or ''
    tot = None
    for line in text.splitlines():
        m = TOTALS.match(line.strip())
        if m:
            tot = m
    if tot:
        p, f, s = int(tot.group(1)), int(tot.group(2)), int(tot.group(3) or 0)
        c.passed, c.failed, c.skipped = p, f, s
        tag = 'PASS' if f == 0 and status == 0 else 'FAIL'
        c.lines.append('  %-4s %s: %s' % (tag, name, tot.group(0).strip()))
        if status != 0 and f == 0:
            c.add('fail', name, 'exit status %d' % status)
    elif status == 0:
        c.add('ok', name)
    elif status == 77:
        c.add('skip', name, 'not applicable')
    else:
        c.add('fail', name, 'exit status %d, log %s' % (status, log))
    if status not in (0, 77):
        for l in text.splitlines()[-25:]:
            c.lines.append('       | ' + l)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vm', help='a VM run directory')
    ap.add_argument('--name', help='name of the VM run')
    ap.add_argument('--status', type=int, help="run-vm's exit status")
    ap.add_argument('--legs', help='legs file of make check')
    args = ap.parse_args()
    total = Counter()
    if args.vm:
        total.merge(parse_vm(args.vm, args.name or os.path.basename(args.vm.rstrip('/')),
                             args.status))
    elif args.legs:
        with open(args.legs) as f:
            for row in f:
                row = row.rstrip('\n').split('\t')
                if len(row) < 4:
                    continue
                name, kind, status, path = row[:4]
                secs = row[4] if len(row) > 4 else '?'
                c = (parse_vm(path, name, int(status)) if kind == 'vm'
                     else parse_step(name, int(status), path))
                print('== %s (%ss): %s' % (name, secs, c.totals()))
                for l in c.lines:
                    print(l)
                total.passed += c.passed
                total.failed += c.failed
                total.skipped += c.skipped
    else:
        ap.error('need --vm DIR or --legs FILE')
    if args.vm:
        for l in total.lines:
            print(l)
    print(total.totals())
    return 1 if total.failed else 0


if __name__ == '__main__':
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
