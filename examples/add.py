#!/usr/bin/env python3
"""Sums the numbers given as arguments (or, with none, those in ./stdin.txt or on standard
input) and prints the sum as a float: `python3 add.py 4 5` prints 9.0. The same contract as
/add.py in the sw_example image of the Muse documentation."""
import os
import sys


def numbers():
    if len(sys.argv) > 1:
        return sys.argv[1:]
    if os.path.exists("stdin.txt"):
        with open("stdin.txt") as f:
            return f.read().split()
    return sys.stdin.read().split()


try:
    print(float(sum(float(x) for x in numbers())))
except ValueError as e:
    sys.stderr.write("add.py: not a number: %s\n" % e)
    sys.exit(2)
