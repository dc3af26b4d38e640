#!/usr/bin/env bash
# Loads every snippet `acs dhcp option43` prints into the DHCP server it is for, with that server's
# own configuration checker (Debian packages isc-dhcp-server, kea-dhcp4-server, kea-dhcp6-server,
# dnsmasq; jq for merging the Kea JSON):
#   ISC dhcpd: dhcpd -t -cf FILE (dhcpd -6 -t -cf FILE for DHCPv6)
#   Kea:       kea-dhcp4 -t FILE / kea-dhcp6 -t FILE
#   dnsmasq:   dnsmasq --test --conf-file=FILE
# for options 43, 125 and v6-17, with every sub-option given and with --url alone. Where a
# snippet carries raw bytes (dnsmasq), they must be the bytes `--format hex` prints.
#
# Usage: scripts/check-dhcp-snippets.sh path/to/acs
set -euo pipefail

acs="${1:?usage: $0 path/to/acs}"
for tool in dhcpd kea-dhcp4 kea-dhcp6 dnsmasq jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check-dhcp-snippets: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

url='http://acs.example.com:7547/acs?x=1,2'
full=(--url "$url" --provisioning-code 'cisco-mpp "lobby"' --retry-min-wait 10 --retry-multiplier 2500)
only_url=(--url https://acs.example.com/)

checked=0
failed=0

fail() {
  echo "FAIL: $1" >&2
  failed=$((failed + 1))
}

# run_checker LABEL FILE CMD...: runs the checker; on refusal shows the file and its output.
run_checker() {
  local label="$1" file="$2"
  shift 2
  local out
  if out="$("$@" 2>&1)"; then
    echo "ok: $label ($*)"
    checked=$((checked + 1))
  else
    fail "$label is refused by $*"
    echo "---- $file" >&2
    cat -n "$file" >&2
    echo "---- $1 says:" >&2
    echo "$out" >&2
    echo "----" >&2
  fi
}

snippet() { # snippet OUTFILE ARGS...: `acs dhcp option43 ARGS` must exit 0.
  local outfile="$1"
  shift
  if ! "$acs" dhcp option43 "$@" >"$outfile" 2>"$outfile.err"; then
    fail "acs dhcp option43 $* exited $?: $(cat "$outfile.err")"
    return 1
  fi
}

for variant in full url; do
  if [ "$variant" = full ]; then args=("${full[@]}"); else args=("${only_url[@]}"); fi
  for option in 43 125 v6-17; do
    base="$work/$variant-$option"
    snippet "$base.hex" "${args[@]}" --option "$option" --format hex --separator : || continue
    hexval="$(cat "$base.hex")"

    # ISC dhcpd: a subnet declaration around it, as dhcpd.conf / dhcpd6.conf need one.
    label="option $option --format isc ($variant)"
    if snippet "$base.isc" "${args[@]}" --option "$option" --format isc; then
      conf="$base.dhcpd.conf"
      if [ "$option" = v6-17 ]; then
        { echo 'authoritative;'; echo 'subnet6 2001:db8::/64 { }'; cat "$base.isc"; } >"$conf"
        run_checker "$label" "$conf" dhcpd -6 -t -cf "$conf" -lf "$work/dhcpd6.leases"
      else
        { echo 'authoritative;'; echo 'subnet 192.0.2.0 netmask 255.255.255.0 { }'; cat "$base.isc"; } >"$conf"
        run_checker "$label" "$conf" dhcpd -t -cf "$conf" -lf "$work/dhcpd.leases"
      fi
    fi

    # Kea: the fragment merged into a whole Dhcp4/Dhcp6 configuration.
    label="option $option --format kea ($variant)"
    if snippet "$base.kea" "${args[@]}" --option "$option" --format kea; then
      if [ "$option" = v6-17 ]; then root=Dhcp6 kea=kea-dhcp6; else root=Dhcp4 kea=kea-dhcp4; fi
      conf="$base.kea.json"
      if jq -e --arg r "$root" 'has($r) and (keys | length == 1)' "$base.kea" >/dev/null 2>&1 &&
        jq --arg r "$root" '.[$r] += {
              "interfaces-config": {"interfaces": []},
              "lease-database": {"type": "memfile", "persist": false}
            }' "$base.kea" >"$conf"; then
        run_checker "$label" "$conf" "$kea" -t "$conf"
      else
        fail "$label is not a JSON object with a single $root member"
        cat -n "$base.kea" >&2
      fi
    fi

    # dnsmasq: the lines as they are.
    label="option $option --format dnsmasq ($variant)"
    if snippet "$base.dnsmasq" "${args[@]}" --option "$option" --format dnsmasq; then
      run_checker "$label" "$base.dnsmasq" dnsmasq --test --conf-file="$base.dnsmasq"
      # The raw-bytes form, given in comments for option 43 and as the option for v6-17.
      raw="$(sed -n 's/^#* *dhcp-option=tag:[^,]*,\(43\|option6:17\),//p' "$base.dnsmasq")"
      if [ "$option" = 125 ]; then
        :
      elif [ "$raw" != "$hexval" ]; then
        fail "$label: its raw bytes are not what --format hex prints"
        echo "  snippet: $raw" >&2
        echo "  hex:     $hexval" >&2
      elif [ "$option" = 43 ]; then
        alt="$base.dnsmasq-raw"
        sed -n 's/^# \(dhcp-[a-z-]*=\)/\1/p' "$base.dnsmasq" >"$alt"
        if [ "$(wc -l <"$alt")" -ne 2 ]; then
          fail "$label: the commented raw-bytes alternative is not two lines"
          cat -n "$base.dnsmasq" >&2
        else
          run_checker "$label, raw-bytes alternative" "$alt" dnsmasq --test --conf-file="$alt"
        fi
      fi
    fi
  done
done

# Every option x server format above is meaningful; the CLI has no combination to refuse. A
# value it cannot encode is refused with exit code 2 in every format.
for format in isc kea dnsmasq; do
  set +e
  "$acs" dhcp option43 --url ftp://acs.example.com/ --format "$format" >"$work/refused.out" 2>"$work/refused.err"
  code=$?
  set -e
  if [ "$code" -ne 2 ] || [ -s "$work/refused.out" ] || ! grep -q 'invalid ACS URL' "$work/refused.err"; then
    fail "--format $format with an ftp:// URL: exit $code (want 2, nothing on stdout, a message on stderr)"
  else
    echo "ok: --format $format refuses an ftp:// URL with exit code 2"
    checked=$((checked + 1))
  fi
done

echo "$checked passed, $failed failed"
[ "$failed" -eq 0 ]
