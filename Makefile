# Godwit. `make run` and `make test` are the two commands; the migrate targets are the Alembic
# guide's verbs, over the godwit CLI. ENV=name picks an environment from godwit.toml.

CARGO_TARGET_DIR ?= target
export CARGO_TARGET_DIR
GODWIT := $(CARGO_TARGET_DIR)/debug/godwit
ENV_FLAG := $(if $(ENV), --env $(ENV),)

.PHONY: run test lint unit build migration migrate migrate-down migrate-logs migrate-check bench

build:
	cargo build --bin godwit

# The demo project's `dev` environment is a SQLite file: no server needed.
run: build
	$(GODWIT) up
	$(GODWIT) status
	$(GODWIT) history

test: lint
	scripts/setup-test.sh
	cargo nextest run --workspace --no-fail-fast

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

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
