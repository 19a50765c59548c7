#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Source checks run as ctest entries (lint.format, lint.banned):
#   lint.sh format   every C file matches .clang-format (clang-format --dry-run -Werror)
#   lint.sh banned   no banned function in our C code (STYLE.md §6, curl checksrc style)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find common broker relay-agent tests -name '*.[ch]')

case "${1:-}" in
format)
    command -v clang-format >/dev/null || { echo "clang-format missing"; exit 77; }
    clang-format --dry-run -Werror "${files[@]}"
    echo "format: ${#files[@]} files clean"
    ;;
banned)
    # sscanf is allowed only in tests (parsing test vectors), never in shipped code.
    pattern='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|gets|alloca|rand|srand|signal)[[:space:]]*\('
    hits=$(grep -nE "$pattern" "${files[@]}" | grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*)' || true)
    scanf_hits=$(grep -nE '\bsscanf[[:space:]]*\(' "${files[@]}" | grep -v '^tests/' || true)
    if [ -n "$hits$scanf_hits" ]; then
        echo "banned functions used:"
        printf '%s\n' "$hits" "$scanf_hits" | sed '/^$/d'
        exit 1
    fi
    echo "banned: ${#files[@]} files clean"
    ;;
*)
    echo "usage: lint.sh format|banned" >&2
    exit 2
    ;;
esac
