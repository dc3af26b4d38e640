#!/usr/bin/env bash
# Authentication before the body (docs/PERFORMANCE.md, issue 10 requirement 3): 1,000 concurrent
# connections each try to send 15 MiB of a declared 16 MiB body with no Authorization, while a
# real simulated CPE (Digest, `acs sim`) runs its session in the same run. Prints the server's
# idle and peak RSS (VmHWM), how the flood connections ended, and the CPE's result.
# Usage: scripts/bench-unauth-flood.sh [CONNECTIONS]   (SQLite in a temporary data directory)
set -euo pipefail
N=${1:-1000}
cd "$(dirname "$0")/.."
cargo build --release -q -p acs-cli
ACS=${ACS_BIN:-$PWD/target/release/acs}
DATA=$(mktemp -d)
CWMP=127.0.0.1:27747
NBI=127.0.0.1:27757
export ACS_LOG__FILTER=warn ACS_DATA_DIR=$DATA
export ACS_CPE_AUTH__MODE=digest ACS_CPE_AUTH__USERNAME=bench ACS_CPE_AUTH__PASSWORD=bench-pw
# The flood comes from one address: keep the limiter from blocking the CPE beside it.
export ACS_CPE_AUTH__LIMITER__MAX_FAILURES=1000000
ulimit -n 65536 2>/dev/null || true
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

"$ACS" serve --data-dir "$DATA" --cwmp-addr $CWMP --nbi-addr $NBI 2>>"$DATA/serve.log" &
SERVER=$!
for _ in $(seq 100); do
    curl -fs "http://$NBI/healthz" >/dev/null && break
    sleep 0.1
done
idle=$(rss_kib "$SERVER")
echo "server idle RSS: $((idle / 1024)) MiB"

python3 scripts/unauth-flood.py 127.0.0.1 "${CWMP#*:}" "$N" >"$DATA/flood.json" &
FLOOD=$!
# The real CPE starts while the flood is in flight.
sleep 0.5
"$ACS" sim --acs "http://$CWMP/" --devices 1 --username bench --password bench-pw \
    --no-periodic --ramp 0 --duration 20 >"$DATA/sim.out" 2>"$DATA/sim.err" &
SIM=$!
wait "$FLOOD"
sim_status=0
wait "$SIM" || sim_status=$?
peak=$(peak_kib "$SERVER")
echo "flood ($N connections): $(cat "$DATA/flood.json")"
echo "server peak RSS (VmHWM): $((peak / 1024)) MiB"
summary=$(grep -h 'sessions ok' "$DATA/sim.out" "$DATA/sim.err" | tail -1)
echo "simulated CPE (exit $sim_status): $summary"
ok=$(sed -n 's/.*sessions ok \([0-9]*\).*/\1/p' <<<"$summary")
[ "$sim_status" = 0 ] && [ "${ok:-0}" -ge 1 ]
