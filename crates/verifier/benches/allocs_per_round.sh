#!/usr/bin/env bash
# Allocations per attestation round in a verifier binary (BENCHMARKS.md,
# "Issue 5", run O): a uprobe on mimalloc's mi_free, counted by `perf stat`
# for 10 s of verifier_scale's continuous phase, divided by the rounds the
# bench verified. At the default 300 agents (150 rounds/s) a commit batch
# is about one round, so the figure is per round, not per batch.
#
#   cargo build --release -p trustcloud && cp target/release/trustcloud /tmp/tc-new
#   crates/verifier/benches/allocs_per_round.sh /tmp/tc-new [AGENTS]
#
# Needs root (uprobes) and `perf`. Give each binary its own file name: the
# probe is named after it.
set -euo pipefail
bin=${1:?usage: $0 VERIFIER_BINARY [AGENTS]}
agents=${2:-300}
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin is not an executable" >&2; exit 1; }
cd "$(dirname "$0")/../../.."
event="tcalloc:free_$(basename "$bin" | tr -c 'a-zA-Z0-9\n' '_')"
perf probe -q --del "$event" 2>/dev/null || true
perf probe -q -x "$bin" --add "$event=mi_free" || { echo "cannot probe mi_free in $bin" >&2; exit 1; }
log=$(mktemp) stat=$(mktemp)
trap 'perf probe -q --del "$event" 2>/dev/null || true; rm -f "$log" "$stat"' EXIT
VERIFIER_SCALE_BIN=$bin VERIFIER_SCALE_ONLY=continuous VERIFIER_SCALE_AGENTS=$agents \
  VERIFIER_SCALE_RUN_SECS=20 cargo bench -q -p verifier --bench verifier_scale >"$log" 2>&1 &
bench=$!
until grep -q "enrolled and attested once" "$log"; do
  kill -0 "$bench" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.5
done
pid=$(pgrep -f "^$bin verifier" | head -1)
sleep 6 # past the ramp (two intervals), inside the 20 s window
perf stat -x, -e "$event" -p "$pid" -- sleep 10 2>"$stat"
wait "$bench"
frees=$(grep free_ "$stat" | cut -d, -f1)
rate=$(grep -E "^\| $agents \|" "$log" | awk -F'|' '{print $3}' | awk '{print $1}')
awk -v f="$frees" -v r="$rate" 'BEGIN { printf "%d frees in 10 s at %.1f rounds/s: %.1f per round\n", f, r, f / (10 * r) }'
grep -E "^\| $agents \|" "$log"
