#!/usr/bin/env bash
# Memory of a large firmware upload and download (docs/PERFORMANCE.md, issue 5): a SIZE_MB
# (default 200) MB image is uploaded with `acs files upload`, then fetched whole from the file
# server by a CPE with its credentials (`/files/d/<name>`); the peak RSS of the CLI and of the
# server is printed after each. Streaming keeps both far below the image's size.
# Usage: scripts/bench-upload.sh [SIZE_MB]   (SQLite in a temporary data directory)
set -euo pipefail
SIZE_MB=${1:-200}
cd "$(dirname "$0")/.."
cargo build --release -q -p acs-cli
ACS=$PWD/target/release/acs
DATA=$(mktemp -d)
CWMP=127.0.0.1:27647
NBI=127.0.0.1:27657
export ACS_LOG__FILTER=warn ACS_DATA_DIR=$DATA ACS_SERVER=http://$NBI
# CPE credentials for the download (Basic over plain HTTP: a local benchmark only).
export ACS_CPE_AUTH__MODE=basic ACS_CPE_AUTH__USERNAME=bench ACS_CPE_AUTH__PASSWORD=bench-pw \
    ACS_CPE_AUTH__ALLOW_INSECURE_BASIC=true
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

"$ACS" serve --data-dir "$DATA" --cwmp-addr $CWMP --nbi-addr $NBI 2>>"$DATA/serve.log" &
SERVER=$!
for _ in $(seq 100); do
    curl -fs "http://$NBI/healthz" >/dev/null && break
    sleep 0.1
done
base_kib=$(peak_kib "$SERVER")
image="$DATA/sip88xx.99-0-1MPP.loads"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$image"

echo "== acs files upload ($SIZE_MB MB firmware image)"
/usr/bin/time -f "cli: %e s wall, %M KiB peak RSS" \
    "$ACS" files upload "$image" --type firmware --format json >"$DATA/file.json"
echo "server: peak RSS $(peak_kib "$SERVER") KiB (idle after start: $base_kib KiB)"
stored=$(find "$DATA/files" -type f -size +1M | head -1)
cmp -s "$image" "$stored" && echo "stored copy is identical"

echo "== CPE download of the image from the file server"
/usr/bin/time -f "curl: %e s wall" curl -fsS -u bench:bench-pw -o "$DATA/fetched" \
    "http://$CWMP/files/d/$(basename "$image")"
cmp -s "$image" "$DATA/fetched" && echo "downloaded copy is identical"
echo "server: peak RSS $(peak_kib "$SERVER") KiB"
