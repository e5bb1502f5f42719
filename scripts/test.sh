#!/usr/bin/env bash
# `make test`: every check and test the project has, browser tests in Chromium included.
source "$(dirname "$0")/lib.sh"

started=$SECONDS
step() { log "[$((SECONDS - started))s] $*"; }

ensure_rust_tools
ensure_sqlx_cli
ensure_node_packages
ensure_chromium
# Always a database of the tests' own: never one named by the caller's DATABASE_URL, since
# the tests drop and recreate it.
find_postgres
export DATABASE_URL="$PG_BASE/ballot_tracker_test"
# Builds read the committed query metadata (app/.sqlx); `sqlx prepare --check` proves it current.
export SQLX_OFFLINE=true
# The same flags cargo-leptos uses for debug builds, so its artifacts and ours are shared.
export RUSTFLAGS="--cfg erase_components"
# Property tests draw from a fixed seed, so a red run repeats exactly. Explore new cases with
# another seed: `PROPTEST_RNG_SEED=$RANDOM make test`.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261125}"

step "format"
cargo fmt --all -- --check

step "clippy, server build"
cargo clippy -p app -p server --all-targets -- -D warnings

step "clippy, wasm build"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "wasm dependency guard"
# `cargo tree -i` prints the crate's reverse tree when it is in the build, and "nothing to
# print" or "did not match any packages" when it is not.
for crate in sqlx argon2 lettre tokio; do
  tree="$(cargo tree -p frontend --target wasm32-unknown-unknown -e normal -i "$crate" 2>&1 || true)"
  if printf '%s' "$tree" | grep -q "^$crate v"; then
    echo "error: $crate is in the wasm build:"; printf '%s\n' "$tree"
    exit 1
  fi
done
echo "none of sqlx, argon2, lettre, tokio is in the wasm build"

step "build (cargo leptos build)"
cargo leptos build
bin=target/debug/ballot-tracker

step "migrate a fresh test database"
cargo sqlx database drop -y --database-url "$DATABASE_URL" >/dev/null
"$bin" migrate

step "query metadata is current (sqlx prepare --check)"
(cd app && SQLX_OFFLINE=false cargo sqlx prepare --check -- --features ssr --all-targets)

step "unit, property and database tests"
cargo test -p app -p server

step "browser tests (Playwright, Chromium)"
e2e_url="$PG_BASE/ballot_tracker_e2e"
cargo sqlx database drop -y --database-url "$e2e_url" >/dev/null
DATABASE_URL="$e2e_url" "$bin" demo --voters 300 >/dev/null
# Portal accounts for the browser tests (end2end/tests/admin.spec.ts): Los Angeles staff.
for who in walker clerk; do
  printf '%s' 'e2e passphrase for county staff' | DATABASE_URL="$e2e_url" "$bin" admin create \
    --email "$who@la.demo.example.org" --name "LA ${who^}" --role county-staff --county 06037 \
    --password-stdin >/dev/null
done
for account in admin:county-admin auditor:auditor; do
  printf '%s' 'e2e passphrase for county staff' | DATABASE_URL="$e2e_url" "$bin" admin create \
    --email "${account%%:*}@la.demo.example.org" --name "LA ${account%%:*}" \
    --role "${account#*:}" --county 06037 --password-stdin >/dev/null
done
# The walk-through changes a received Los Angeles ballot (the first the portal lists) and
# expects its notice queued: give that voter a confirmed email subscription.
psql -q "$e2e_url" -v ON_ERROR_STOP=1 -c "
  insert into subscriptions (voter_id, county_fips, channel, address, language, confirmed_at)
  select v.id, v.county_fips, 'email', 'e2e-walk@example.com', 'en', now()
  from voters v join ballots b on b.voter_id = v.id
  where v.county_fips = '06037' and b.status = 'received'
  order by v.last_name_norm, v.first_name_norm, v.id limit 1
  on conflict do nothing"
port="${E2E_PORT:-3100}"
# Stand-in providers on 127.0.0.1 for the server's delivery worker: nothing leaves the machine.
standin_port=$((port + 1)); smtp_port=$((port + 2))
"$bin" standins --smtp-port "$smtp_port" --http-port "$standin_port" \
  --account-sid AC00000000000000000000000000000e2e --auth-token e2e-auth-token >/dev/null &
standin_pid=$!
# Every browser test comes from 127.0.0.1: raise the per-client limit, keep the per-identity one.
DATABASE_URL="$e2e_url" LEPTOS_SITE_ADDR="127.0.0.1:$port" LOOKUP_LIMIT_PER_CLIENT=10000 EXPORT_INLINE_ROWS=1 ANNOUNCEMENT_APPROVAL_THRESHOLD=0 \
  PUBLIC_BASE_URL="http://127.0.0.1:$port" SMTP_URL="smtp://127.0.0.1:$smtp_port" \
  TELEPHONY_BASE_URL="http://127.0.0.1:$standin_port" \
  TELEPHONY_ACCOUNT_SID=AC00000000000000000000000000000e2e TELEPHONY_AUTH_TOKEN=e2e-auth-token \
  SMS_FROM=+15555550100 RUST_LOG=warn "$bin" serve &
server_pid=$!
trap 'kill $server_pid $standin_pid 2>/dev/null || true' EXIT
(cd end2end && BASE_URL="http://127.0.0.1:$port" STANDIN_URL="http://127.0.0.1:$standin_port" \
  npx playwright test)

step "audit chain of the browser tests' database (ballot-tracker audit verify)"
DATABASE_URL="$e2e_url" "$bin" audit verify

step "all checks passed"
