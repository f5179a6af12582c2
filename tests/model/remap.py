#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Move the C line references of the models (name.c:N, name.c:N-M) to where
those lines are now.

The models (lib/owner.pml, lib/wait.pml) and tests/model/run.sh cite the C
lines each model step stands for.  After an edit of lib/ or kmod/, run this
with the revision the references were right for: it lines up each cited
file at that revision with the working tree (difflib) and rewrites every
reference to an unchanged line.  A reference to a line that was changed or
removed is looked for in every cited file (a function moved to another
file keeps its lines): a line found once, unchanged, is cited there;
otherwise the reference is left alone and reported: look at it by hand.  References to the
old protocol ("old writer.c:N", 79818a2) are never touched.  Run it once
for a revision (a second run would move references already moved), then
`tests/model/run.sh --anchors` tells whether the anchors hold.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys

SOURCES = {
    'owner.c': 'lib/owner.c', 'writer.c': 'lib/writer.c',
    'wait.c': 'lib/wait.c', 'reader.c': 'lib/reader.c',
    'device.c': 'lib/device.c', 'futex.c': 'lib/futex.c',
    'membarrier.c': 'lib/membarrier.c', 'internal.h': 'lib/internal.h',
    'file.c': 'kmod/file.c', 'wake.c': 'kmod/wake.c',
}
TARGETS = ['lib/owner.pml', 'lib/wait.pml', 'tests/model/run.sh']
OLD_PROTOCOL = re.compile(r'79818a2|old (writer|wait)\.c')


def old_lines(rev, path):
    got = subprocess.run(['git', 'show', f'{rev}:{path}'],
                         capture_output=True, text=True)
    return got.stdout.splitlines() if got.returncode == 0 else []


def new_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def moved_to(old, n, files):
    """Where line n of `old` (1-based) is in the working tree: the one
    (name, line) holding that text whose neighbours, three either side,
    match best (at least two of them when the text is not unique)."""
    text = old[n - 1].strip()
    near = [(d, old[n - 1 + d].strip()) for d in range(-3, 4)
            if d and 0 <= n - 1 + d < len(old)]
    scored = []
    for name, lines in files.items():
        for i, line in enumerate(lines):
            if line.strip() != text:
                continue
            score = sum(1 for d, t in near
                        if 0 <= i + d < len(lines) and lines[i + d].strip() == t)
            scored.append((score, name, i + 1))
    if not scored:
        return None
    scored.sort(reverse=True)
    if len(scored) == 1 or (scored[0][0] >= 2 and scored[0][0] > scored[1][0]):
        return scored[0][1], scored[0][2]
    return None


def line_map(rev, path):
    old = old_lines(rev, path)
    new = new_lines(path)
    moved = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == 'equal':
            for k in range(i2 - i1):
                moved[i1 + k + 1] = j1 + k + 1
    return moved


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('rev', help='revision the references were right for, '
                    'e.g. HEAD')
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          '..', '..'))
    maps = {name: line_map(args.rev, path) for name, path in SOURCES.items()}
    was = {name: old_lines(args.rev, path) for name, path in SOURCES.items()}
    now = {name: new_lines(path) for name, path in SOURCES.items()}
    ref = re.compile(r'\b(' + '|'.join(map(re.escape, maps)) +
                     r'):(\d+)(?:-(\d+))?')
    unmapped = 0

    for target in TARGETS:
        with open(target) as f:
            lines = f.read().split('\n')

        def move(mo):
            nonlocal unmapped
            name, first, last = mo.group(1), int(mo.group(2)), mo.group(3)
            lines_now = maps[name]
            if first in lines_now and (not last or int(last) in lines_now):
                text = f'{name}:{lines_now[first]}'
                return text + (f'-{lines_now[int(last)]}' if last else '')
            old = was[name]
            found = moved_to(old, first, now) if 0 < first <= len(old) else None
            if found and last:
                # The range moved whole: its last line is as far on.
                end = found[1] + int(last) - first
                lines = now[found[0]]
                if not (0 < int(last) <= len(old) and end <= len(lines) and
                        lines[end - 1].strip() == old[int(last) - 1].strip()):
                    found = None
            if found:
                text = f'{found[0]}:{found[1]}'
                return text + (f'-{found[1] + int(last) - first}' if last else '')
            print(f'{target}: {mo.group(0)}: that line changed; '
                  'look at it by hand', file=sys.stderr)
            unmapped += 1
            return mo.group(0)

        out = [line if OLD_PROTOCOL.search(line) else ref.sub(move, line)
               for line in lines]
        with open(target, 'w') as f:
            f.write('\n'.join(out))
    return 1 if unmapped else 0


if __name__ == '__main__':
    sys.exit(main())
