#!/usr/bin/env bash
# Cold `cargo test --workspace --no-run` of two revisions, one after the other on the same
# machine, each in a fresh worktree and target directory; prints both times and their ratio.
#   scripts/bench-cold-build.sh [BEFORE [AFTER]]   (default: ddd001b, the tree before issue 12's
#   split, and HEAD)
# Run it on an idle machine: it measures compile time, which anything else on the cores skews.
set -euo pipefail
cd "$(dirname "$0")/.."
before="${1:-ddd001b}"
after="${2:-HEAD}"
work="$(mktemp -d /tmp/acs-cold-build.XXXXXX)"
trap 'for d in "$work"/tree-*; do git worktree remove --force "$d" 2>/dev/null || true; done; rm -rf "$work"' EXIT
declare -A secs
for rev in "$before" "$after"; do
  tree="$work/tree-$(git rev-parse --short "$rev")"
  git worktree add -q --detach "$tree" "$rev"
  start=$(date +%s.%N)
  (cd "$tree" && CARGO_TARGET_DIR="$work/target-$rev" CARGO_INCREMENTAL=0 cargo test --workspace --no-run -q --locked >/dev/null 2>&1)
  end=$(date +%s.%N)
  secs[$rev]=$(echo "$end - $start" | bc)
  rm -rf "$work/target-$rev"
  printf '%-10s %s  %7.1f s\n' "$rev" "$(git rev-parse --short "$rev")" "${secs[$rev]}"
done
printf 'after/before: %.2f\n' "$(echo "${secs[$after]} / ${secs[$before]}" | bc -l)"
