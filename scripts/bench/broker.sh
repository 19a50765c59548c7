#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The rtsp-broker benchmark of issue 3 (method: docs/benchmarks.md), one command, loopback only,
# bounded in time (about 3 minutes with the defaults):
#   1. builds Release (build/bench) unless --broker is given;
#   2. makes a temporary registry: CLI for the first relays and cameras (timed), the rest in bulk
#      (scripts/bench/bench_registry.py) up to 200 relays and 10,000 cameras;
#   3. starts the broker pinned to core 0 with its RSS sampled, and 200 simulated relays
#      heartbeating every second (tests/tools/rd_heartbeat_sim.py, core 1);
#   4. rd_redirect_bench (core 1), a new TCP connection per viewer: OPTIONS+DESCRIBE at full
#      speed, DESCRIBE only at full speed, then OPTIONS+DESCRIBE at half the full rate, open
#      loop, for latency; then offered at 25, 75, 90 and 110 % of the full rate (--no-sweep
#      skips it) for the achieved-against-offered plot;
#   5. heartbeat ingest: 1,000 relays at 2 beats/s each (the per-relay rate limit);
#   6. nginx (Debian package, installed if missing) answering `return 302` on core 0, driven
#      by the same generator in HTTP mode and by wrk with "Connection: close";
#   7. the stub redirector (tests/tools/rd_stub_redirector.c) on core 0: generator ceiling.
# Every measurement runs --repeats times (3); the summary shows medians and the broker/nginx
# ratios, and writes summary.json with every run's JSON into the results directory.
#
# usage: scripts/bench/broker.sh [--broker PATH] [--no-build] [--out DIR] [--seconds N]
#                                [--repeats N] [--concurrency N] [--skip-nginx] [--skip-stub]
#                                [--skip-broker] [--no-sweep] [--cli-sample N] [--no-spin]
# The open-loop (latency) runs make the generator spin (--spin of rd_redirect_bench) so that it
# starts each viewer on time; --no-spin lets it sleep between starts (its own lateness then
# shows in the tail: start_delay_us in each JSON).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build/bench"
broker=""
build_it=1
out=""
seconds=4
warmup=1
repeats=3
conc=64
cameras=10000
relays=200
ingest_relays=1000
cli_sample=10
src="127.0.1.0-4096" # 4,096 client addresses: per-IP accept limits see a realistic spread
core_srv=0
core_cli=1
skip_nginx=0
skip_stub=0
skip_broker=0
sweep=1
spin="--spin"
py=/usr/bin/python3

while [ $# -gt 0 ]; do
    case "$1" in
    --broker) broker=$2; shift 2 ;;
    --no-build) build_it=0; shift ;;
    --out) out=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --concurrency) conc=$2; shift 2 ;;
    --cli-sample) cli_sample=$2; shift 2 ;;
    --skip-nginx) skip_nginx=1; shift ;;
    --skip-stub) skip_stub=1; shift ;;
    --skip-broker) skip_broker=1; shift ;;
    --no-sweep) sweep=0; shift ;;
    --spin) spin="--spin"; shift ;;
    --no-spin) spin=""; shift ;;
    -h | --help) sed -n '3,26p' "$0"; exit 0 ;;
    *) echo "broker.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(nproc)" -ge 2 ] || die "needs 2 cores (server and client pinned apart)"
command -v taskset >/dev/null || die "taskset missing (util-linux)"

# ---- tools -------------------------------------------------------------------------------
need_pkgs=()
command -v sqlite3 >/dev/null || need_pkgs+=(sqlite3)
if [ $skip_nginx -eq 0 ]; then
    command -v nginx >/dev/null || need_pkgs+=(nginx-light)
    command -v wrk >/dev/null || need_pkgs+=(wrk)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]} (Debian packages)"
    if [ "$(id -u)" -eq 0 ]; then
        # Packaged services must not start (policy-rc.d is the Debian way to say so).
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
            trap_rm_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null; } ||
            log "could not install ${need_pkgs[*]}"
        [ "${trap_rm_policy:-0}" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    else
        log "not root: cannot install ${need_pkgs[*]}"
    fi
fi
if [ $skip_nginx -eq 0 ] && ! command -v nginx >/dev/null; then
    log "nginx not available: skipping the nginx baseline"
    skip_nginx=1
fi

if [ $build_it -eq 1 ]; then
    log "building Release in $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    targets=(rd_redirect_bench rd_stub_redirector)
    [ -z "$broker" ] && [ -f "$root/broker/main.c" ] && targets+=(rtsp-broker)
    cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null
fi
gen="$build/tests/tools/rd_redirect_bench"
stub="$build/tests/tools/rd_stub_redirector"
[ -x "$gen" ] || die "$gen not built"
[ -n "$broker" ] || broker="$build/broker/rtsp-broker"
if [ $skip_broker -eq 0 ] && [ ! -x "$broker" ]; then
    log "no broker binary at $broker (not merged yet?): measuring the baselines only"
    skip_broker=1
fi
sim="$root/tests/tools/rd_heartbeat_sim.py"
reg="$root/scripts/bench/bench_registry.py"
# From here on this script and everything it starts run on the client core; only the servers
# are started on core_srv. Left unpinned, the harness's own processes (RSS sampling, median
# computations) ran on the server's core and delayed it by up to 6 ms at a time (seen with
# `perf sched timehist`): a latency tail that was the benchmark's, not the server's.
taskset -p -c "$core_cli" $$ >/dev/null || die "cannot pin the harness to core $core_cli"

# ---- run directory, cleanup by PID -------------------------------------------------------
out=${out:-"$root/build/bench-results/$(date +%Y%m%d-%H%M%S)"}
mkdir -p "$out"
tmp=$(mktemp -d /tmp/rd-bench.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
stop_pid() { # stop_pid PID: TERM, wait up to 10 s, KILL
    local p=$1
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
}
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT SECONDS
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        $py -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.5)" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}
cpu_s() { # cpu_s PID: utime+stime in seconds (fields 14 and 15 of /proc/PID/stat)
    $py -c "import os,sys; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"
}
sub() { $py -c "print(max(0.0, $2 - $1))"; }
median_rate() { # median_rate FILES...: median redirects_per_s
    $py -c "import json,statistics,sys; print(statistics.median(json.load(open(f))['redirects_per_s'] for f in sys.argv[1:]))" "$@"
}
# run_gen NAME SERVER_PID ARGS...: one generator run on the client core. The generator reads
# the server's CPU time at the start and the end of its measured window (server_cpu_s in the
# JSON: warmup excluded, like the viewers counted); NAME.cpu keeps the CPU over its whole run.
run_gen() {
    local name=$1 spid=$2
    shift 2
    local c0 c1
    c0=$(cpu_s "$spid")
    taskset -c $core_cli "$gen" -q --json "$out/$name.json" --label "$name" --server-pid "$spid" "$@" ||
        log "$name: generator exited non-zero"
    c1=$(cpu_s "$spid")
    sub "$c0" "$c1" >"$out/$name.cpu"
    $py -c "import json; r=json.load(open('$out/$name.json')); print('  %-18s %8.0f/s  p50 %7.1f us  p99 %8.1f us  errors %d' % ('$name', r['redirects_per_s'], r['latency_us']['p50'], r['latency_us']['p99'], r['errors']))" >&2
}

cams_arg=(--cameras 'cam%d' --range "0-$((cameras - 1))")
common=(-c "$conc" -d "$seconds" --warmup "$warmup" --src "$src" "${cams_arg[@]}")
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${loadavg_start%% *}" 'BEGIN { exit !(l >= 0.5) }'; then
    log "load average is $loadavg_start: other work shares these cores, figures will be low"
fi
rss_max=""
rss_phases="{}"
hwm=""
nginx_hwm=""
cli_ms=""

# ---- broker -----------------------------------------------------------------------------
if [ $skip_broker -eq 0 ]; then
    rport=$(free_port)
    aport=$(free_port)
    conf="$tmp/broker.conf"
    cat >"$conf" <<EOF
database = $tmp/registry.db
rtsp_listen = 127.0.0.1:$rport
admin_listen = 127.0.0.1:$aport
log_file = $tmp/broker.log
log_level = notice
max_conns = 20000
max_conns_per_ip = 100
EOF
    log "registry: $relays relays, $cameras cameras ($cli_sample of each through the CLI)"
    t0=$(date +%s%N)
    for i in $(seq 0 $((cli_sample - 1))); do
        "$broker" -c "$conf" relay add "r$i" --site default --rtsp-url "rtsp://127.0.0.1:$((30000 + i))" \
            --capacity 100000 --json >"$tmp/r$i.relay.json" || die "relay add failed"
    done
    for i in $(seq 0 $((cli_sample - 1))); do
        "$broker" -c "$conf" camera add "cam$i" "rtsp://10.255.0.1/stream$i" >/dev/null ||
            die "camera add failed"
    done
    t1=$(date +%s%N)
    cli_ms=$($py -c "print(round(($t1 - $t0) / 1e6 / (2 * $cli_sample), 1))")
    log "CLI: $cli_ms ms per add"
    cli_json=()
    for i in $(seq 0 $((cli_sample - 1))); do cli_json+=(--cli-json "$tmp/r$i.relay.json"); done
    $py "$reg" relays "$tmp/registry.db" "$cli_sample" $((relays - 1)) --json "$tmp/relays.json" "${cli_json[@]}" >&2
    $py "$reg" cameras "$tmp/registry.db" 'cam%d' "$cli_sample" $((cameras - 1)) >&2

    log "starting the broker on core $core_srv (rtsp 127.0.0.1:$rport, admin 127.0.0.1:$aport)"
    taskset -c $core_srv "$broker" -c "$conf" >"$tmp/broker.out" 2>&1 &
    bpid=$!
    pids+=("$bpid")
    wait_port "$rport" 20 || { cat "$tmp/broker.out" "$tmp/broker.log" >&2 || true; die "broker did not listen"; }
    wait_port "$aport" 20 || die "admin port did not open"
    # VmRSS every 0.2 s with shell builtins only: no process started per sample.
    mkfifo "$tmp/tick"
    (
        exec 9<>"$tmp/tick"
        while kill -0 "$bpid" 2>/dev/null; do
            while read -r k v _; do
                [ "$k" = "VmRSS:" ] && echo "$v"
            done <"/proc/$bpid/status" 2>/dev/null || true
            read -r -t 0.2 -u 9 _ || true
        done
    ) >"$tmp/rss.samples" &
    pids+=("$!")

    log "heartbeats: $relays relays every second, $((cameras / relays)) cameras each"
    # Background load: niced, so that the generator measuring latency on the same core is not
    # held off by the simulator's bursts (Python runs of up to 6 ms seen with perf sched).
    taskset -c $core_cli nice -n 5 $py "$sim" --admin "127.0.0.1:$aport" --relays "$tmp/relays.json" --limit "$relays" \
        "${cams_arg[@]/--range/--camera-range}" --interval 1 --report-every 0 --quiet \
        --json "$out/keepalive.json" >"$tmp/sim.out" 2>&1 &
    simpid=$!
    pids+=("$simpid")
    ok=0
    for _ in $(seq 30); do
        if "$gen" -q -c 4 -n 200 --src "$src" "${cams_arg[@]}" --json "$tmp/probe.json" 127.0.0.1:"$rport" &&
            [ "$($py -c "import json; print(json.load(open('$tmp/probe.json'))['errors'])")" = 0 ]; then
            ok=1
            break
        fi
        sleep 1
    done
    [ $ok -eq 1 ] || { cat "$tmp/probe.json" "$tmp/sim.out" >&2; tail -20 "$tmp/broker.log" >&2; die "relays did not become healthy"; }

    log "broker: OPTIONS+DESCRIBE at full speed, $repeats x ${seconds}s"
    for r in $(seq "$repeats"); do run_gen "broker-full-$r" "$bpid" "${common[@]}" 127.0.0.1:"$rport"; done
    log "broker: DESCRIBE only at full speed"
    for r in $(seq "$repeats"); do run_gen "broker-describe-$r" "$bpid" "${common[@]}" --no-options 127.0.0.1:"$rport"; done
    full=$(median_rate "$out"/broker-full-*.json)
    half=$($py -c "print(max(1, int($full / 2)))")
    log "broker: OPTIONS+DESCRIBE at half rate ($half/s, open loop)"
    for r in $(seq "$repeats"); do
        run_gen "broker-half-$r" "$bpid" -c 1024 -d "$seconds" --warmup "$warmup" --src "$src" "${cams_arg[@]}" \
            --rate "$half" $spin 127.0.0.1:"$rport"
    done
    n_target=$(wc -l <"$tmp/rss.samples") # RSS samples of the target's conditions end here
    if [ "$sweep" -eq 1 ]; then
        # Offered-load sweep (open loop, one run each): achieved rate and latency against
        # offered rate for the plot of docs/benchmarks.md (scripts/bench/plot.py).
        for pct in 25 75 90 110; do
            rate=$($py -c "print(max(1, int($full * $pct / 100)))")
            log "broker: OPTIONS+DESCRIBE offered at ${pct}% of full speed ($rate/s, open loop)"
            run_gen "broker-sweep$pct-1" "$bpid" -c 1024 -d "$seconds" --warmup "$warmup" \
                --src "$src" "${cams_arg[@]}" --rate "$rate" $spin 127.0.0.1:"$rport"
        done
    fi

    n_sweep=$(wc -l <"$tmp/rss.samples")
    stop_pid "$simpid"
    if [ "$ingest_relays" -gt "$relays" ]; then
        $py "$reg" relays "$tmp/registry.db" "$relays" $((ingest_relays - 1)) --json "$tmp/relays.json" --append >&2
        sleep 2 # the broker notices the registry version within a second
    fi
    log "heartbeat ingest: $ingest_relays relays x 2/s, $repeats x ${seconds}s"
    for r in $(seq "$repeats"); do
        taskset -c $core_cli $py "$sim" --admin "127.0.0.1:$aport" --relays "$tmp/relays.json" --limit "$ingest_relays" \
            "${cams_arg[@]/--range/--camera-range}" --interval 0.5 --warmup 2 --duration "$seconds" \
            --conns 16 --src 127.0.2.1-2 \
            --broker-pid "$bpid" --report-every 0 --quiet --json "$out/ingest-$r.json" >>"$tmp/sim.out" 2>&1 ||
            log "ingest run $r: simulator reported errors"
        $py -c "import json; r=json.load(open('$out/ingest-$r.json')); print('  ingest-%d  %7.0f/s of %d offered  status %s  broker %s us/beat' % ($r, r['per_s'], r['offered_per_s'], r['status'], r['broker_cpu_us_per_beat']))" >&2
    done
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$bpid/status")
    stop_pid "$bpid"
    rss_max=$(sort -n "$tmp/rss.samples" | tail -1)
    # Max VmRSS per phase: the target's (200 relays, full speed and half rate), the sweep (its
    # 110 % point keeps up to 1,024 viewers in flight), the ingest (1,000 relays).
    rss_phases=$(awk -v a="$n_target" -v b="$n_sweep" '
        NR <= a { if ($1 > t) t = $1; next }
        NR <= b { if ($1 > w) w = $1; next }
        { if ($1 > i) i = $1 }
        END { printf "{\"target\": %d, \"sweep\": %d, \"ingest\": %d}", t, w, i }' "$tmp/rss.samples")
    cp "$tmp/broker.log" "$out/broker.log" 2>/dev/null || true
fi

# ---- nginx ------------------------------------------------------------------------------
if [ $skip_nginx -eq 0 ]; then
    nport=$(free_port)
    nd="$tmp/nginx"
    mkdir -p "$nd/logs"
    # One worker, no logging, the same Location shape and length as the broker's 302.
    cat >"$nd/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $nd/nginx.pid;
error_log $nd/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $nd/body;
    proxy_temp_path $nd/proxy;
    fastcgi_temp_path $nd/fastcgi;
    uwsgi_temp_path $nd/uwsgi;
    scgi_temp_path $nd/scgi;
    server {
        listen 127.0.0.1:$nport backlog=4096;
        location / {
            return 302 rtsp://127.0.0.1:30001/v1\$uri/k1.1767225600.AAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAA/;
        }
    }
}
EOF
    log "nginx $(nginx -v 2>&1 | sed 's/.*\///') on core $core_srv, port $nport"
    taskset -c $core_srv nginx -p "$nd" -c "$nd/nginx.conf" -e "$nd/logs/error.log" &
    npid=$!
    pids+=("$npid")
    wait_port "$nport" 10 || die "nginx did not listen"
    wpid=$(pgrep -P "$npid" | head -1)
    log "nginx: GET with Connection: close (rd_redirect_bench --http), $repeats x ${seconds}s"
    for r in $(seq "$repeats"); do run_gen "nginx-gen-$r" "$wpid" "${common[@]}" --http 127.0.0.1:"$nport"; done
    if command -v wrk >/dev/null; then
        log "nginx: wrk -H 'Connection: close' (cross-check), $repeats x ${seconds}s"
        for r in $(seq "$repeats"); do
            c0=$(cpu_s "$wpid")
            taskset -c $core_cli wrk -t1 -c"$conc" -d"${seconds}s" --latency -H "Connection: close" \
                "http://127.0.0.1:$nport/cam1" >"$tmp/wrk-$r.txt" 2>&1 || true
            c1=$(cpu_s "$wpid")
            $py "$root/scripts/bench/summarize.py" --parse-wrk "$tmp/wrk-$r.txt" "$out/nginx-wrk-$r.json"
            sub "$c0" "$c1" >"$out/nginx-wrk-$r.cpu"
            cp "$tmp/wrk-$r.txt" "$out/nginx-wrk-$r.txt"
            log "  nginx-wrk-$r $(grep Requests/sec "$tmp/wrk-$r.txt" || echo '?')"
        done
    fi
    nginx_hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$wpid/status")
    stop_pid "$npid"
fi

# ---- stub redirector ----------------------------------------------------------------------
if [ $skip_stub -eq 0 ] && [ -x "$stub" ]; then
    taskset -c $core_srv "$stub" --port 0 --port-file "$tmp/stub.port" --mint >"$tmp/stub.out" 2>&1 &
    spid=$!
    pids+=("$spid")
    for _ in $(seq 50); do [ -s "$tmp/stub.port" ] && break; sleep 0.1; done
    sport=$(cat "$tmp/stub.port")
    log "stub redirector (OPTIONS+DESCRIBE, minted tokens) on core $core_srv, $repeats x ${seconds}s"
    for r in $(seq "$repeats"); do run_gen "stub-full-$r" "$spid" "${common[@]}" 127.0.0.1:"$sport"; done
    if [ -n "${half:-}" ]; then
        # The latency floor: the same open-loop load as the broker's half-rate runs, against a
        # server that does almost nothing (generator, kernel and VM scheduling only).
        log "stub redirector at the broker's half rate ($half/s, open loop)"
        for r in $(seq "$repeats"); do
            run_gen "stub-half-$r" "$spid" -c 1024 -d "$seconds" --warmup "$warmup" --src "$src" \
                "${cams_arg[@]}" --rate "$half" $spin 127.0.0.1:"$sport"
        done
    fi
    stop_pid "$spid"
fi

# ---- summary ----------------------------------------------------------------------------
$py - "$out/meta.json" <<EOF
import json, os, platform, sys
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
meta = {
    "date": "$(date -u +%FT%TZ)", "host_kernel": platform.release(), "cpu": cpu,
    "cores": os.cpu_count(), "loadavg_start": "$loadavg_start",
    "loadavg_end": open("/proc/loadavg").read().split()[:3],
    "broker": "$broker" if not $skip_broker else None,
    "cameras": $cameras, "relays": $relays, "ingest_relays": $ingest_relays,
    "cli_ms_per_add": float("${cli_ms:-0}") or None,
    "seconds": $seconds, "warmup_s": $warmup, "repeats": $repeats, "concurrency": $conc,
    "client_addresses": "$src", "server_core": $core_srv, "client_core": $core_cli,
    "broker_rss_max_kib": int("${rss_max:-0}") or None,
    "broker_rss_max_kib_by_phase": json.loads('$rss_phases') or None,
    "broker_hwm_kib": int("${hwm:-0}") or None,
    "nginx_hwm_kib": int("${nginx_hwm:-0}") or None,
}
json.dump(meta, open(sys.argv[1], "w"), indent=2)
EOF
$py "$root/scripts/bench/summarize.py" "$out"
