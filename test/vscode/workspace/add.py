"""Sums its numeric arguments and prints the sum as a float: `python3 add.py 4 5` prints 9.0.

With no arguments it reads whitespace-separated numbers from ./stdin.txt if present, else from
standard input (the same contract as /add.py in the test image).
"""
import os
import sys

if len(sys.argv) > 1:
    words = sys.argv[1:]
elif os.path.exists("stdin.txt"):
    with open("stdin.txt") as f:
        words = f.read().split()
else:
    words = sys.stdin.read().split()
print(float(sum(float(w) for w in words)))
