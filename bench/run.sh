#!/usr/bin/env bash
# keydesk benchmarks, one command: installs wrk if missing, builds the release
# binaries, then bench/bench.py starts the server on a free loopback port with
# a temporary data directory, seeds 100,000 keys, runs benchmark A
# (verification throughput and latency beside /healthz), B (key list on
# 100,000 keys), C (the console on them) and D-G (issue 7: usage history on
# vs off, revoke keypress to the first failing verification, lookup by
# secret, the event stream to 50 consoles), prints the summary and stops the
# server.
#
#   bench/run.sh                         # everything, about 8-9 minutes after the build
#   bench/run.sh --duration 5            # shorter wrk runs
#   bench/run.sh --only incident         # only D-G (about 3 minutes)
#   bench/run.sh --only revoke,stream    # any of verify, lists, console, usage, revoke, lookup, stream
#   bench/run.sh --skip-verify           # all but A; likewise --skip-lists, --skip-console, --skip-incident
#   bench/run.sh --help                  # every option of bench/bench.py
#
# Results: printed, and written to target/bench/results-<time>.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "[bench] installing wrk (Debian package)" >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
command -v python3 >/dev/null 2>&1 || { echo "[bench] python3 is required" >&2; exit 2; }

echo "[bench] building release binaries (cargo build --release --bin keydesk --example bench_seed --example console_bench --example incident_bench)" >&2
cargo build --release --bin keydesk --example bench_seed --example console_bench --example incident_bench

exec python3 bench/bench.py "$@"
