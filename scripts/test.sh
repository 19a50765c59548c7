#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what is missing (Debian 12, as root), builds twice and runs every test:
#   build/release  gcc, -O2, -Werror                          -> ctest
#   build/asan     clang, ASan + UBSan, libFuzzer targets     -> ctest (incl. short fuzz runs)
# Exits non-zero on any failure. Environment:
#   RD_JOBS          parallel build and test jobs (default: nproc)
#   RD_FUZZ_SECONDS  seconds per fuzz_run.<target> entry (default 10)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
source scripts/deps.sh
rd_install_deps

jobs=${RD_JOBS:-$(nproc)}
fuzz_seconds=${RD_FUZZ_SECONDS:-10}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0

run_build() { # name, cc, cmake args...
    local name=$1 cc=$2
    shift 2
    echo "=== build $name ($cc)"
    CC=$cc cmake -S . -B "build/$name" -DRD_WERROR=ON "$@" >"build/$name.configure.log" 2>&1 \
        || { cat "build/$name.configure.log"; return 1; }
    cmake --build "build/$name" -j "$jobs" >"build/$name.build.log" 2>&1 \
        || { grep -E -B2 -A8 'error|Error' "build/$name.build.log" | head -100; return 1; }
    echo "=== test $name"
    (cd "build/$name" && ctest --output-on-failure -j "$jobs" --timeout 600)
}

mkdir -p build
run_build release gcc -DCMAKE_BUILD_TYPE=Release || status=1
if command -v clang >/dev/null; then
    run_build asan clang -DCMAKE_BUILD_TYPE=Debug -DRD_SANITIZE=address,undefined -DRD_FUZZ=ON \
        -DRD_FUZZ_SECONDS="$fuzz_seconds" || status=1
else
    run_build asan gcc -DCMAKE_BUILD_TYPE=Debug -DRD_SANITIZE=address,undefined || status=1
fi

if [ "$status" -ne 0 ]; then
    echo "test.sh: FAILED"
else
    echo "test.sh: all builds and tests passed"
fi
exit "$status"
