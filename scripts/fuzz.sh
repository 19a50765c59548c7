#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzzing campaign: builds the libFuzzer targets (clang, ASan + UBSan), fuzzes each
# target for SECONDS into a scratch corpus, then merges what is new into
# tests/fuzz/corpus/<target>/ (libFuzzer -merge=1 keeps only inputs adding coverage).
# Crashes are left in fuzz-work/<target>/ as crash-*; add them to the corpus once fixed.
#   scripts/fuzz.sh [SECONDS] [PARALLEL] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-600}
parallel=${2:-2}
shift $(($# > 2 ? 2 : $#))
build=${RD_FUZZ_BUILD:-build/fuzz}
CC=clang cmake -S . -B $build -DCMAKE_BUILD_TYPE=Debug -DRD_SANITIZE=address,undefined \
    -DRD_FUZZ=ON >/dev/null
cmake --build $build -j "$(nproc)" >/dev/null
if [ $# -eq 0 ]; then
    mapfile -t targets < <(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
else
    targets=("$@")
fi
mkdir -p fuzz-work
run_one() {
    local t=$1 work=fuzz-work/$1
    mkdir -p "$work/new"
    (cd "$work" && "$root/$build/tests/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 new "$root/tests/fuzz/corpus/$t") \
        >"$work/log" 2>&1 || true
    # The merge replays every new input in a fresh process: a crash here lands in $work too.
    (cd "$work" && "$root/$build/tests/fuzz_$t" -merge=1 "$root/tests/fuzz/corpus/$t" new) \
        >"$work/merge.log" 2>&1 || true
    local execs crashes
    execs=$(grep -E '^stat::number_of_executed_units' "$work/log" | awk '{print $2}')
    crashes=$(ls "$work" | grep -cE '^(crash|leak|timeout|oom)-' || true)
    echo "$t: execs=${execs:-?} seconds=$seconds crashes=$crashes corpus=$(ls tests/fuzz/corpus/$t | wc -l)"
}
export -f run_one
export root build seconds
printf '%s\n' "${targets[@]}" | xargs -P "$parallel" -I{} bash -c 'run_one {}'
