#!/usr/bin/env bash
# Builds the Debian package (cargo-deb) and checks what it holds: the binary runs, the unit
# passes `systemd-analyze verify`, /etc/acs/acs.toml is a conffile and loads.
#
# CI builds it from the dev profile (the test build's artifacts, so no second compile of the
# whole tree); a release package is `cargo deb -p acs-cli`.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-dev}"
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb --no-default-features
deb="$(cargo deb -p acs-cli --locked --profile "$profile" --no-strip 2>/dev/null | tail -1)"
[ -f "$deb" ] || { echo "cargo deb produced no package" >&2; exit 1; }
echo "built $deb"
dpkg-deb --info "$deb" | grep -E '^ (Package|Version|Depends|Section):'
contents="$(dpkg-deb --contents "$deb")"
for path in ./usr/bin/acs ./etc/acs/acs.toml ./usr/lib/systemd/system/acs.service \
  ./usr/share/doc/acs/acs.example.toml; do
  grep -q " $path\$" <<<"$contents" || { echo "the package lacks $path" >&2; exit 1; }
done
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
dpkg-deb --extract "$deb" "$root"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/acs/acs.toml \
  || { echo "/etc/acs/acs.toml is not a conffile" >&2; exit 1; }
"$root/usr/bin/acs" --version
# The packaged configuration loads (it is the one the unit passes).
ACS_DATA_DIR="$root/var/lib/acs" "$root/usr/bin/acs" serve --print-config --config "$root/etc/acs/acs.toml" \
  | grep -q "^listen = \"127.0.0.1:7557\"" || { echo "the packaged acs.toml does not load" >&2; exit 1; }
# The unit as systemd reads it, pointed at the extracted binary (verify checks that ExecStart
# exists; the package is not installed on this machine).
mkdir -p "$root/verify"
sed "s|/usr/bin/acs|$root/usr/bin/acs|" "$root/usr/lib/systemd/system/acs.service" > "$root/verify/acs.service"
# It reports a bad directive as a warning and still exits 0: any word from it is a failure.
complaints="$(systemd-analyze verify --man=no "$root/verify/acs.service" 2>&1)" || true
[ -z "$complaints" ] || { echo "systemd-analyze verify: $complaints" >&2; exit 1; }
echo "package checked"
