#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Move the C line references of the models (name.c:N, name.c:N-M) to where
those lines are now.

The models (lib/owner.pml, lib/wait.pml) and tests/model/run.sh cite the C
lines each model step stands for.  After an edit of lib/ or kmod/, run this
with the revision the references were right for: it lines up each cited
file at that revision with the working tree (difflib) and rewrites every
reference to an unchanged line.  A reference to a line that was changed or
removed is left alone and reported: look at it by hand.  References to the
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
    'device.c': 'lib/device.c', 'file.c': 'kmod/file.c',
    'wake.c': 'kmod/wake.c',
}
TARGETS = ['lib/owner.pml', 'lib/wait.pml', 'tests/model/run.sh']
OLD_PROTOCOL = re.compile(r'79818a2|old (writer|wait)\.c')


def line_map(rev, path):
    old = subprocess.run(['git', 'show', f'{rev}:{path}'], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    with open(path) as f:
        new = f.read().splitlines()
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
            if first not in lines_now or (last and int(last) not in lines_now):
                print(f'{target}: {mo.group(0)}: that line changed; '
                      'look at it by hand', file=sys.stderr)
                unmapped += 1
                return mo.group(0)
            text = f'{name}:{lines_now[first]}'
            return text + (f'-{lines_now[int(last)]}' if last else '')

        out = [line if OLD_PROTOCOL.search(line) else ref.sub(move, line)
               for line in lines]
        with open(target, 'w') as f:
            f.write('\n'.join(out))
    return 1 if unmapped else 0


if __name__ == '__main__':
    sys.exit(main())
