# Godwit. `make run` and `make test` are the two commands; the migrate targets are the Alembic
# guide's verbs, over the godwit CLI. ENV=name picks an environment from godwit.toml.

CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
GODWIT := $(CARGO_TARGET_DIR)/debug/godwit
ENV_FLAG := $(if $(ENV), --env $(ENV),)

TOOLS := $(HOME)/.cache/godwit/tools
TAURI_DRIVER := $(TOOLS)/bin/tauri-driver

.PHONY: run test test-busy e2e screenshots lint ui setup build dist test-dist check-windows fuzz corpus migration migrate migrate-down migrate-logs migrate-check bench bench-peers

build:
	cargo build --bin godwit

# Installs what the builds and tests need on Debian 12 (apt packages, servers, cargo-nextest).
setup:
	scripts/setup-test.sh

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

# The front end, built into src-tauri's frontendDist (the shell embeds it when it compiles).
ui: node_modules
	npm run build

# The desktop app on the demo project (its `dev` environment is a SQLite file: no server needed).
run: ui
	@dpkg -s libwebkit2gtk-4.1-dev >/dev/null 2>&1 || scripts/setup-test.sh
	cargo build -p godwit-app
	$(CARGO_TARGET_DIR)/debug/godwit-app $(CURDIR)

test: setup ui lint
	cargo nextest run --workspace --no-fail-fast -E 'not binary(busy)'
	npm test
	$(MAKE) e2e
	@# The generated front-end types must be committed as the Rust types say.
	@git diff --exit-code --stat -- ui/src/lib/bindings || (echo "ui/src/lib/bindings is stale: run cargo test and commit it" && exit 1)
	@test -z "$$(git status --porcelain -- ui/src/lib/bindings)" || (echo "new generated types in ui/src/lib/bindings: commit them" && exit 1)

# Release packages (dist/Godwit_VERSION_amd64.deb, dist/Godwit-VERSION-1.x86_64.rpm, and an AppImage
# where Tauri's AppImage tools can be had): the app and the CLI with its man pages and completions.
dist: setup ui
	scripts/dist.sh

# Checks the .deb's Maintainer and that the .rpm holds the same files; installs the .deb with apt,
# starts the installed app under Xvfb, removes it again (needs root).
test-dist:
	@command -v xwininfo >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq x11-utils
	scripts/test-dist.sh

# A million-row MariaDB table altered through pt-online-schema-change while a session writes to it,
# a stop in the middle of its copy, and the same ALTER run directly (README: "Running against a busy
# production database"); three rounds, a minute or two.
test-busy: setup
	@for round in 1 2 3; do \
	  cargo nextest run --test busy --no-capture > $(CARGO_TARGET_DIR)/busy.log 2>&1 || { cat $(CARGO_TARGET_DIR)/busy.log; exit 1; }; \
	  grep '^busy:' $(CARGO_TARGET_DIR)/busy.log; \
	done

# Fuzzes the splitter, migration files and godwit.toml (cargo-fuzz, nightly), FUZZ_SECONDS each.
fuzz:
	scripts/fuzz.sh

# Real public projects imported and checked against their own tools (corpus/README.md); slow.
corpus: setup
	scripts/corpus.sh $(CORPUS)

# The MariaDB corpus: sipwise/db-schema's provisioning database, ~490 migrations (needs its mirror).
corpus-mariadb: setup
	scripts/mariadb-corpus.sh

# The core and the CLI type-checked for Windows (MinGW target): no Linux-only code outside cfg(unix).
check-windows:
	scripts/check-windows.sh

# End-to-end: the real app window under Xvfb, driven over WebDriver (tauri-driver, kept outside the clone).
e2e: ui
	@test -x $(TAURI_DRIVER) || cargo install tauri-driver --locked --root $(TOOLS)
	cargo build -p godwit-app
	TAURI_DRIVER=$(TAURI_DRIVER) GODWIT_APP=$(CARGO_TARGET_DIR)/debug/godwit-app tests/e2e/run.sh

# Retakes docs/screenshots through the e2e harness (PostgreSQL, MariaDB and SQLite environments).
screenshots: ui
	@test -x $(TAURI_DRIVER) || cargo install tauri-driver --locked --root $(TOOLS)
	cargo build -p godwit-app --bin godwit-app
	cargo build --bin godwit
	E2E_ONLY=tests/e2e/screenshots.mjs TAURI_DRIVER=$(TAURI_DRIVER) GODWIT_APP=$(CARGO_TARGET_DIR)/debug/godwit-app tests/e2e/run.sh

lint: ui
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	npm run check

# Asks for the name on a terminal, like the guide's `make migration`; or NAME=add_email_column.
migration: build
	$(GODWIT)$(ENV_FLAG) new $(NAME)

migrate: build
	$(GODWIT)$(ENV_FLAG) up

migrate-down: build
	$(GODWIT)$(ENV_FLAG) down

migrate-logs: build
	$(GODWIT)$(ENV_FLAG) history

migrate-check: build
	$(GODWIT)$(ENV_FLAG) status
	$(GODWIT)$(ENV_FLAG) check

bench:
	scripts/setup-test.sh
	cargo bench --bench engine
	cargo bench --bench backup
	cargo bench --bench schema
	cargo bench --bench lint
	cargo build --release --bin godwit
	python3 bench/fleet.py
	python3 bench/verify.py

# Godwit beside sqlx-cli, dbmate and Alembic, whole processes on the local PostgreSQL, MariaDB and
# a SQLite file: writes docs/BENCHMARKS.md and docs/benchmarks.png (about an hour on 2 cores). The
# peers go to $(TOOLS), outside the clone.
BENCH_PY := $(TOOLS)/bench/bin/python
bench-peers: setup ui
	bench/setup.sh
	@test -x $(TAURI_DRIVER) || cargo install tauri-driver --locked --root $(TOOLS)
	cargo build --release --bin godwit
	cargo build --release -p godwit-app
	$(BENCH_PY) bench/peers.py $(BENCH_ARGS)
