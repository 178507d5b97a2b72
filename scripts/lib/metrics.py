"""Reads msgmig's Prometheus metrics for the bench scripts.

total(url, name): the sum of every series of metric `name` served at `url`/metrics.
As a command: `python3 scripts/lib/metrics.py URL NAME` prints that sum.
"""
import sys
import urllib.request


def total(url, name):
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name)] in " {")


if __name__ == "__main__":
    print(total(sys.argv[1], sys.argv[2]))
