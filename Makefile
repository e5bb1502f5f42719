# The two commands (README): `make run` and `make test`. `make bench` prints speed figures.
.PHONY: run test bench fmt prepare

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

bench:
	@bash scripts/bench.sh

fmt:
	cargo fmt --all

# Regenerates app/.sqlx after a query changes (needs a migrated DATABASE_URL).
prepare:
	cd app && SQLX_OFFLINE=false cargo sqlx prepare -- --features ssr --all-targets
