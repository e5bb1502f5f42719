#!/usr/bin/env bash
# `make bench`: speed figures, printed. Release builds, a database of the benchmark's own.
# BENCH_VOTERS (default 1,000,000) sets the size of the synthetic election; BENCH_ONLY=imports
# times the county-file imports alone, BENCH_ONLY=exports the exports alone; BENCH_IMPORT_ROWS
# (1,000,000) the imports' size.
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

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# BENCH_ONLY=imports or =exports runs that section alone (after the demo load).
only="${BENCH_ONLY:-}"
if [ -z "$only" ]; then

# --- Look-ups: the full app against a bare axum + sqlx endpoint running the same queries -------
ensure_wrk
log "building the bare look-up endpoint (server/examples/bare_lookup.rs)"
cargo build --release -p server --example bare_lookup
bare=target/release/examples/bare_lookup
app_port="${BENCH_APP_PORT:-3210}"
bare_port="${BENCH_BARE_PORT:-3211}"
connections="${BENCH_CONNECTIONS:-16}"
seconds="${BENCH_SECONDS:-15}"

# 2,000 real identities (9 in 10 found, 1 in 10 with a wrong birth date), drawn at random.
psql "$bench_url" -Atc "copy (
    select v.first_name, v.last_name, v.date_of_birth, v.residential_zip
    from voters v tablesample system (1)
    where not v.confidential and exists (select 1 from ballots b where b.voter_id = v.id)
    limit 2000) to stdout with csv" > "$work/identities.csv"
python3 - "$work" <<'PY'
import csv, sys, urllib.parse, datetime
work = sys.argv[1]
rows = list(csv.reader(open(f"{work}/identities.csv")))
def body(r, miss):
    dob = datetime.date.fromisoformat(r[2])
    if miss:
        dob += datetime.timedelta(days=1)
    return urllib.parse.urlencode({"first_name": r[0], "last_name": r[1],
        "date_of_birth": dob.isoformat(), "zip": r[3], "voter_id": ""})
def script(name, bodies):
    with open(f"{work}/{name}.lua", "w") as f:
        f.write("local bodies = {\n")
        f.writelines('  "%s",\n' % b for b in bodies)
        f.write("}\nlocal headers = { [\"Content-Type\"] = \"application/x-www-form-urlencoded\" }\n")
        # Voters arrive through a load balancer from many addresses (X-Forwarded-For).
        f.write("request = function()\n"
                "  headers[\"X-Forwarded-For\"] = \"198.18.\" .. math.random(0, 255) .. \".\" .. math.random(1, 254)\n"
                "  return wrk.format(\"POST\", \"/api/lookup\", headers, bodies[math.random(#bodies)])\nend\n")
script("mixed", [body(r, i % 10 == 9) for i, r in enumerate(rows)])
script("found", [body(r, False) for r in rows])
script("missed", [body(r, True) for r in rows])
PY
echo "identities for the look-up load: $(wc -l < "$work/identities.csv")"

# The full app as deployed behind a load balancer (JSON logs at info, to /dev/null; wrk plays
# the balancer, forwarding for 65,000 client addresses), every look-up counted against both
# rate limits. The limits are lifted so that the load, which repeats 2,000 identities, measures
# the work rather than 429s. The bare endpoint has the same pool size.
DATABASE_URL="$bench_url" LEPTOS_SITE_ADDR="127.0.0.1:$app_port" LOG_FORMAT=json RUST_LOG=info \
  LOOKUP_LIMIT_PER_CLIENT=1000000000 LOOKUP_LIMIT_PER_IDENTITY=1000000000 TRUSTED_PROXIES=127.0.0.1 \
  "$bin" serve >/dev/null 2>&1 &
app_pid=$!
DATABASE_URL="$bench_url" BARE_ADDR="127.0.0.1:$bare_port" "$bare" >/dev/null 2>&1 &
bare_pid=$!
trap 'kill $app_pid $bare_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in "$app_port" "$bare_port"; do
  for _ in $(seq 1 100); do port_open 127.0.0.1 "$port" && break; sleep 0.1; done
done

# Runs wrk and prints "requests/s p50_ms p99_ms non-2xx".
load() { # url script connections seconds
  wrk -t1 -c"$3" -d"$4"s --latency -s "$work/$2.lua" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad }'
}
# Warm both (and PostgreSQL's cache) before measuring.
load "http://127.0.0.1:$app_port" mixed 4 3 >/dev/null
load "http://127.0.0.1:$bare_port" mixed 4 3 >/dev/null
read -r app_rps app_p50 app_p99 app_bad <<<"$(load "http://127.0.0.1:$app_port" mixed "$connections" "$seconds")"
read -r bare_rps bare_p50 bare_p99 bare_bad <<<"$(load "http://127.0.0.1:$bare_port" mixed "$connections" "$seconds")"
# Found and not found, one at a time, through the full app: the failed look-up should cost the same.
read -r _ found_p50 found_p99 _ <<<"$(load "http://127.0.0.1:$app_port" found 1 10)"
read -r _ missed_p50 missed_p99 _ <<<"$(load "http://127.0.0.1:$app_port" missed 1 10)"

echo
echo "Look-ups, $voters voters, wrk: $connections connections, ${seconds}s, 9 in 10 found"
printf '%-34s %12s %10s %10s %8s\n' "endpoint" "lookups/s" "p50 ms" "p99 ms" "non-2xx"
printf '%-34s %12s %10s %10s %8s\n' "full app (POST /api/lookup)" "$app_rps" "$app_p50" "$app_p99" "$app_bad"
printf '%-34s %12s %10s %10s %8s\n' "bare axum + sqlx, same queries" "$bare_rps" "$bare_p50" "$bare_p99" "$bare_bad"
awk -v a="$app_rps" -v b="$bare_rps" 'BEGIN { printf "%-34s %12.2f   (target 0.6 or better)\n", "ratio full / bare", a / b }'
echo
echo "Found vs not found, full app, one connection, 10s each"
printf '%-34s %10s %10s\n' "look-up" "p50 ms" "p99 ms"
printf '%-34s %10s %10s\n' "found" "$found_p50" "$found_p99"
printf '%-34s %10s %10s\n' "not found (wrong birth date)" "$missed_p50" "$missed_p99"

echo
echo "Query plan of the look-up by name (one of the identities above):"
IFS=, read -r first last dob zip < "$work/identities.csv"
psql "$bench_url" -v first="$first" -v last="$last" -v dob="$dob" -v zip="$zip" -X -q <<'SQL'
\set ON_ERROR_STOP on
-- The app compares normalised names; these identities are demo names, whose stored normalised
-- forms are looked up here by the stored raw name.
select first_name_norm as f, last_name_norm as l from voters
 where first_name = :'first' and last_name = :'last' and date_of_birth = :'dob' and residential_zip = :'zip'
 limit 1 \gset
explain (analyze, buffers, costs off)
select id from voters
 where last_name_norm = :'l' and first_name_norm = :'f' and date_of_birth = :'dob'
   and residential_zip = :'zip' and not confidential
 limit 2;
SQL

# --- Staff search in the portal, as a Los Angeles clerk (row-level security on) ---------------
echo
log "building the staff search timer (server/examples/bench_search.rs)"
cargo build --release -p server --example bench_search
DATABASE_URL="$bench_url" target/release/examples/bench_search

# --- Notifications: a bulk change's enqueue, and dispatch to the stand-in providers -----------
# Last: it changes the benchmark's ballots (they are all set to "mailed", then "received").
echo
log "building the notification timer (server/examples/bench_notify.rs)"
cargo build --release -p server --example bench_notify
echo "targets: enqueue of 1,000,000 under 10 s; dispatch 20,000 a second or more"
DATABASE_URL="$bench_url" RUST_LOG=error target/release/examples/bench_notify

fi

# Prints "seconds peak_MB" of a command.
timed() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out"; return 1; }
  awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$work/time"
}

# --- Exports: the ballot status list of every county, beside PostgreSQL's own COPY ------------
# The same rows and columns through `ballot-tracker export` (CSV and XLSX) and through psql's
# \copy (select ...) to stdout (the limit); memory growth is the export's peak less the peak of
# an export of no rows.
if [ -z "$only" ] || [ "$only" = exports ]; then
echo
log "exports: the ballot status list"
read -r zero_s zero_mb <<<"$(DATABASE_URL="$bench_url" RUST_LOG=error timed "$bin" export --kind ballots --from 2000-01-01 --to 2000-01-01 --out "$work/none.csv")"
read -r csv_s csv_mb <<<"$(DATABASE_URL="$bench_url" RUST_LOG=error timed "$bin" export --kind ballots --format csv --out "$work/ballots.csv")"
csv_rows=$(( $(wc -l <"$work/ballots.csv") - 1 ))
read -r xlsx_s xlsx_mb <<<"$(DATABASE_URL="$bench_url" RUST_LOG=error timed "$bin" export --kind ballots --format xlsx --out "$work/ballots.xlsx")"
s=$(date +%s.%N)
psql "$bench_url" -qc "\\copy (select c.name, e.name, v.county_voter_id, concat_ws(' ', v.first_name, v.middle_name, v.last_name, v.suffix), v.precinct, b.ballot_number, b.status, b.status_reason, to_char(b.status_at at time zone 'America/Los_Angeles', 'YYYY-MM-DD HH24:MI:SS'), b.outbound_imb, b.inbound_imb, r.ballot_number from ballots b join voters v on v.id = b.voter_id join elections e on e.id = b.election_id join counties c on c.fips = b.county_fips left join ballots r on r.id = b.replaces_ballot_id order by b.id) to '$work/copy.csv' with (format csv, header true)"
e=$(date +%s.%N)
copy_s="$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')"
printf '\nExports, the ballot status list: %s rows (%s MB CSV, %s MB XLSX)\n' "$csv_rows" \
  "$(du -m "$work/ballots.csv" | cut -f1)" "$(du -m "$work/ballots.xlsx" | cut -f1)"
printf '%-30s %10s %12s %10s %12s\n' "export" "seconds" "rows/s" "peak MB" "growth MB"
for row in "CSV:$csv_s:$csv_mb" "XLSX:$xlsx_s:$xlsx_mb" "psql copy to stdout (limit):$copy_s:-"; do
  IFS=: read -r name secs mb <<<"$row"
  awk -v n="$name" -v s="$secs" -v r="$csv_rows" -v m="$mb" -v z="$zero_mb" 'BEGIN {
    g = (m == "-") ? "-" : sprintf("%d", m - z);
    printf "%-30s %10.2f %12.0f %10s %12s\n", n, s, r / s, m, g }'
done
awk -v c="$csv_s" -v l="$copy_s" 'BEGIN { printf "CSV export / COPY: %.1fx\n", c / l }'
echo "targets: within 3x of COPY; memory growth under 50 MB"
fi

# --- County files: VOT, ELG and PKG imports of 1,000,000 rows each -----------------------------
if [ -z "$only" ] || [ "$only" = imports ]; then
# A county the demo leaves empty (Sacramento), so the files are new voters, new ballots and
# their first scans. Each import is timed dry (checked and rolled back) and applied, with its
# peak memory, beside psql's own \copy of the same file into an unindexed table (the limit).
echo
rows="${BENCH_IMPORT_ROWS:-1000000}"
log "county files: generating $rows-row VOT, ELG and PKG files"
read -r election_id mail_from <<<"$(psql "$bench_url" -AtF' ' -c "
  select id, ballots_mailed_from from elections where county_fips is null
  order by election_day desc limit 1")"
python3 - "$work" "$rows" "$mail_from" <<'PY'
import sys, datetime
work, rows, mail_from = sys.argv[1], int(sys.argv[2]), datetime.date.fromisoformat(sys.argv[3])
mailed = (mail_from + datetime.timedelta(days=1)).isoformat()
scanned = (mail_from + datetime.timedelta(days=2)).isoformat()
day = None
with open(f"{work}/vot.csv", "w") as vot, open(f"{work}/elg.csv", "w") as elg, open(f"{work}/pkg.csv", "w") as pkg:
    vot.write("county_fips,voter_id,first_name,middle_name,last_name,suffix,date_of_birth,residential_zip,precinct,language,confidential,email,phone\n")
    elg.write("county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb\n")
    pkg.write("tracking_code,routing_code,operation_code,facility_zip,scan_time\n")
    for i in range(rows):
        zip5 = f"958{i % 40:02d}"
        vot.write(f"06067,SAC-{i},Name{i % 5000},,Family{i % 20000},,19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d},{zip5},P-{i % 900},en,N,,\n")
        tracking = f"00700{987654:06d}{i:09d}"
        elg.write(f"06067,ELECTION_DAY,SAC-{i},SAC-B-{i},MAILED,{mailed},,{tracking}{zip5},\n")
        pkg.write(f"{tracking},{zip5},918,95813,{scanned} 0{i % 10}:{i % 60:02d}:00\n")
PY
election_day="$(psql "$bench_url" -Atc "select election_day from elections where id = $election_id")"
sed -i "s/ELECTION_DAY/$election_day/" "$work/elg.csv"
psql "$bench_url" -qc "drop table if exists bench_copy; create unlogged table bench_copy (a text, b text, c text, d text, e text, f text, g text, h text, i text, j text, k text, l text, m text)"

copy_limit() { # file columns
  psql "$bench_url" -qc "truncate bench_copy"
  local s e
  s=$(date +%s.%N)
  psql "$bench_url" -qc "\\copy bench_copy ($2) from '$1' with (format csv, header true)"
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f\n", e - s }'
}
# Each import starts after a checkpoint: one writes about a gigabyte of WAL, and a checkpoint
# falling inside one run and not another moves the figures by a fifth.
checkpoint() { psql "$bench_url" -qc checkpoint >/dev/null 2>&1 || true; }
printf '\nCounty files, %s rows each (Sacramento County: new voters, ballots, first scans)\n' "$rows"
printf '%-26s %10s %12s %10s\n' "import" "seconds" "rows/s" "peak MB"
for kind in vot elg pkg; do
  case $kind in
    vot) columns="a,b,c,d,e,f,g,h,i,j,k,l,m"; args=() ;;
    elg) columns="a,b,c,d,e,f,g,h,i"; args=(--election "$election_id") ;;
    pkg) columns="a,b,c,d,e"; args=(--election "$election_id") ;;
  esac
  checkpoint
  read -r dry_s dry_mb <<<"$(DATABASE_URL="$bench_url" RUST_LOG=error timed "$bin" import --county 06067 --kind "$kind" "${args[@]}" "$work/$kind.csv")"
  checkpoint
  read -r apply_s apply_mb <<<"$(DATABASE_URL="$bench_url" RUST_LOG=error timed "$bin" import --county 06067 --kind "$kind" "${args[@]}" --apply --confirm mass_change,early_dates "$work/$kind.csv")"
  grep -E "rows of|→|added|issued|rejected|applied" "$work/out" | sed 's/^/    /' | head -8
  copy_s="$(copy_limit "$work/$kind.csv" "$columns")"
  for row in "$kind dry run:$dry_s:$dry_mb" "$kind apply:$apply_s:$apply_mb" "$kind psql copy (limit):$copy_s:-"; do
    IFS=: read -r name s mb <<<"$row"
    awk -v n="$name" -v s="$s" -v r="$rows" -v m="$mb" 'BEGIN { printf "%-26s %10.2f %12.0f %10s\n", n, s, r / s, m }'
  done
done
echo "targets: an ELG import end to end under 15 s; memory flat as the file grows (under 256 MB)"
psql "$bench_url" -qc "drop table bench_copy"
fi
