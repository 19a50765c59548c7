#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Renders common/proto/rd_limits.h as docs/limits.md, so the operator's table of limits
comes from the one header that defines them.

    gen-limits-doc.py            print the document
    gen-limits-doc.py --check    exit 1 if docs/limits.md differs from what would be printed
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "common", "proto", "rd_limits.h")
DOC = os.path.join(ROOT, "docs", "limits.md")


def render():
    text = open(HEADER).read()
    out = ["# Limits", "",
           "Every hard limit of rtsp-director, generated from `common/proto/rd_limits.h` by",
           "`scripts/gen-limits-doc.py` (do not edit by hand). Configuration may lower a limit,",
           "never raise it. A peer that breaks one gets the answer given in its description.", ""]
    comment = []
    in_table = False
    for line in text.splitlines():
        sec = re.match(r"/\* -+ (.+?) -+ \*/", line.strip())
        if sec:
            out += ["", f"## {sec.group(1)}", "", "| limit | value | reason and action |", "|---|---|---|"]
            in_table, comment = True, []
            continue
        m = re.match(r"#define (RD_\w+)\s+(.+?)\s*(?:/\*(.*)\*/)?\s*$", line)
        if m and in_table:
            name, value, trailing = m.group(1), m.group(2), (m.group(3) or "").strip()
            # A trailing comment describes its own line; otherwise the block comment above
            # describes every define up to the next blank line.
            why = trailing or " ".join(comment).strip()
            out.append(f"| `{name}` | `{value}` | {why.replace('|', '/')} |")
            continue
        c = re.match(r"\s*/?\*+\s?(.*?)\s*(\*/)?\s*$", line)
        if c and in_table and not line.startswith("#"):
            if line.strip().startswith("/*"):
                comment = []
            comment.append(c.group(1))
        elif not line.strip():
            comment = []
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def main():
    doc = render()
    if "--check" in sys.argv:
        cur = open(DOC).read() if os.path.exists(DOC) else ""
        if cur != doc:
            print("docs/limits.md is out of date: run scripts/gen-limits-doc.py > docs/limits.md")
            return 1
        print("docs/limits.md is current")
        return 0
    sys.stdout.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
