#!/usr/bin/env python3
"""Runs a command and passes only when it exits 0 and its standard output matches a regex
(ctest's PASS_REGULAR_EXPRESSION alone ignores the exit status).

usage: expect_output.py REGEX COMMAND [ARG...]"""

import re
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    pattern, command = sys.argv[1], sys.argv[2:]
    p = subprocess.run(command, capture_output=True, text=True, timeout=600)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        print(f"expect_output: exit status {p.returncode}, expected 0", file=sys.stderr)
        return 1
    if not re.search(pattern, p.stdout):
        print(f"expect_output: no match for {pattern!r} in the output", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
