#!/usr/bin/env bash
# `make bench`: speed figures, printed. Release builds, a database of the benchmark's own.
# BENCH_VOTERS (default 1,000,000) sets the size of the synthetic election.
source "$(dirname "$0")/lib.sh"

ensure_rust_tools
ensure_sqlx_cli
find_postgres
export SQLX_OFFLINE=true
bench_url="$PG_BASE/ballot_tracker_bench"
voters="${BENCH_VOTERS:-1000000}"

log "building the release binary"
cargo build --release -p server --bin ballot-tracker
bin=target/release/ballot-tracker

log "demo data load: $voters voters into a fresh database"
cargo sqlx database drop -y --database-url "$bench_url" >/dev/null
DATABASE_URL="$bench_url" "$bin" migrate >/dev/null
start=$(date +%s.%N)
out="$(DATABASE_URL="$bench_url" "$bin" demo --voters "$voters")"
line="$(printf '%s\n' "$out" | head -1)"
end=$(date +%s.%N)
echo "$line"
printf '%-36s %12s\n' "benchmark" "figure"
printf '%-36s %12s\n' "demo load, voters" "$voters"
awk -v s="$start" -v e="$end" 'BEGIN { printf "%-36s %11.1fs\n", "demo load, wall time", e - s }'
awk -v s="$start" -v e="$end" -v n="$voters" 'BEGIN { printf "%-36s %12.0f\n", "demo load, voters per second", n / (e - s) }'
