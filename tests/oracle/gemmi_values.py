#!/usr/bin/env python3
"""Independent CIF oracle: print every value of each given file as gemmi reads it.

Output (JSON on stdout): {path: {"_cat.attr": [value, ...]}} or {path: {"error": "..."}} where a value is a string, or
{"null": "?"} / {"null": "."} for an unquoted null marker. Used by msgmig's codec tests to compare
our reader and writer with gemmi (PyPI), value for value. Exit 3 when gemmi is missing.
"""
import json
import sys

try:
    from gemmi import cif
except ImportError:
    sys.stderr.write("gemmi is not installed: pip install gemmi\n")
    sys.exit(3)


def value(raw):
    if cif.is_null(raw) and raw in ("?", "."):
        return {"null": raw}
    return cif.as_string(raw)


def dump(path):
    block = cif.read_file(path).sole_block()
    out = {}
    for item in block:
        if item.pair is not None:
            tag, raw = item.pair
            out.setdefault(tag.lower(), []).append(value(raw))
        elif item.loop is not None:
            loop = item.loop
            width = loop.width()
            values = loop.values
            for i, tag in enumerate(loop.tags):
                out[tag.lower()] = [value(values[r * width + i]) for r in range(loop.length())]
    return out


def dump_or_error(path):
    try:
        return dump(path)
    except Exception as e:  # reported per file, so the caller can show which file and why
        return {"error": str(e)}


if __name__ == "__main__":
    json.dump({p: dump_or_error(p) for p in sys.argv[1:]}, sys.stdout)
