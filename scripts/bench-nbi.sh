#!/usr/bin/env bash
# Benchmarks of the operator CLI over the NBI (docs/PERFORMANCE.md, issue 4):
#   1. `acs get --all` of three stored parameters over DEVICES (default 100,000) devices:
#      wall time and peak memory of the CLI and of the server;
#   2. a live bulk GetParameterValues (`acs get --live`) over LIVE (default 1,000) simulated
#      phones woken by connection requests.
# Usage: scripts/bench-nbi.sh [DEVICES] [LIVE]   (SQLite in a temporary data directory;
#        DEVICES=0 skips the first benchmark)
set -euo pipefail
DEVICES=${1:-100000}
LIVE=${2:-1000}
cd "$(dirname "$0")/.."
cargo build --release -q -p acs-cli
ACS=$PWD/target/release/acs
DATA=$(mktemp -d)
CWMP=127.0.0.1:27547
NBI=127.0.0.1:27557
export ACS_LOG__FILTER=warn ACS_DATA_DIR=$DATA ACS_SERVER=http://$NBI
SERVER=
SIM=
cleanup() {
    [ -n "$SIM" ] && kill "$SIM" 2>/dev/null || true
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

start_server() {
    "$ACS" serve --data-dir "$DATA" --cwmp-addr $CWMP --nbi-addr $NBI 2>>"$DATA/serve.log" &
    SERVER=$!
    for _ in $(seq 100); do
        curl -fs "http://$NBI/healthz" >/dev/null && return 0
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}
stop_server() {
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

start_server
if [ "$DEVICES" -gt 0 ]; then
    echo "seeding $DEVICES devices (one bootstrap session each)..."
    # A session lost to a timeout is retried by the simulated device; the count below is what counts.
    "$ACS" sim --acs "http://$CWMP/" --devices "$DEVICES" --bench --duration 1 --no-periodic \
        --concurrency 64 >"$DATA/seed.log" 2>&1 || tail -5 "$DATA/seed.log"
    token=$(cat "$DATA/admin.token")
    registered=$(curl -fs -H "Authorization: Bearer $token" "http://$NBI/api/v1/devices/count" |
        sed 's/[^0-9]//g')
    echo "registered: $registered devices"
    # A fresh server, so its peak memory is that of serving the query.
    stop_server
    start_server
    base_kib=$(peak_kib "$SERVER")

    echo "== acs get --all (3 parameters, $DEVICES devices)"
    /usr/bin/time -f "cli: %e s wall, %M KiB peak RSS" \
        "$ACS" get --all Device.DeviceInfo.SoftwareVersion Device.DeviceInfo.HardwareVersion \
        Device.ManagementServer.ConnectionRequestURL --format csv >"$DATA/all.csv"
    rows=$(($(wc -l <"$DATA/all.csv") - 1))
    echo "rows: $rows (expected $((registered * 3)))"
    echo "server: peak RSS $(peak_kib "$SERVER") KiB (idle after start: $base_kib KiB)"
fi

echo "== acs get --live ($LIVE simulated phones, connection requests)"
"$ACS" sim --acs "http://$CWMP/" --devices "$LIVE" --serial-prefix LIVE --no-periodic \
    --ramp 0 --duration 600 --cr-listen 127.0.0.1:0 >/dev/null 2>&1 &
SIM=$!
token=$(cat "$DATA/admin.token")
for _ in $(seq 600); do
    n=$(curl -fsG -H "Authorization: Bearer $token" "http://$NBI/api/v1/devices/count" \
        --data-urlencode 'filter=serial ~ "LIVE*"' | sed 's/[^0-9]//g')
    [ "${n:-0}" -ge "$LIVE" ] && break
    sleep 0.2
done
echo "registered: $n phones"
/usr/bin/time -f "live: %e s wall, %M KiB peak RSS (cli)" \
    "$ACS" get --live -f 'serial ~ "LIVE*"' Device.DeviceInfo.UpTime --format csv \
    >"$DATA/live.csv"
echo "rows: $(($(wc -l <"$DATA/live.csv") - 1)) (expected $LIVE)"
