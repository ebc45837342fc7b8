# roomcast: `make run` starts the local runtime with the demo page; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# sam build looks for python3.13 on PATH: the venv's comes first.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: venv venv-run run cli receiver test test-fast lint build validate bench clean client client-deps screenshots

# `make run` installs only what the runtime needs (requirements-run.txt); the dev and test
# toolchain (requirements-dev.txt: pytest, Playwright, SAM CLI, cfn-lint, ruff, mypy) comes
# with the first target that needs it.
$(BIN)/.run-installed: requirements-run.txt layers/roomcast/requirements.txt
	@test -x $(BIN)/python3.13 || "$$(scripts/python313)" -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-run.txt
	@touch $@

$(BIN)/.installed: requirements-dev.txt $(BIN)/.run-installed
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

venv-run: $(BIN)/.run-installed

# The browser client's dev tools (TypeScript, and ws for the Node tests) from client/package-lock.json.
# The built client (client/dist/) is committed, so `make run` and the demo need none of this.
CLIENT_DEPS := client/node_modules/.package-lock.json
$(CLIENT_DEPS): client/package.json client/package-lock.json
	cd client && npm ci

client-deps: $(CLIENT_DEPS)

# After changing a frame model or client/src/: the frame schemas, the client's generated wire
# types, and client/dist/ (tests/unit/test_client_types.py fails while any of them is stale).
client: venv client-deps
	PYTHONPATH=layers/roomcast $(BIN)/python scripts/gen_frame_schemas.py
	$(BIN)/python scripts/gen_client_types.py
	cd client && node_modules/.bin/tsc -p tsconfig.json

# The README's demo screenshots (docs/images/), taken by the demo's e2e flow.
screenshots: venv
	scripts/ensure-chromium
	ROOMCAST_README_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_demo_flows_e2e.py -k readme_flow

venv: $(BIN)/.installed

run: venv-run
	PYTHONPATH=local:layers/roomcast:. $(BIN)/python -m roomcast_local $(ARGS)

# make cli ARGS="redrive --dlq-url ..."  (see docs/webhooks.md)
cli: venv
	PYTHONPATH=tools:layers/roomcast $(BIN)/python -m roomcast_cli $(ARGS)

# make receiver ARGS="--port 8088 --secret whsec_..."
receiver: venv-run
	PYTHONPATH=. $(BIN)/python -m examples.receiver $(ARGS)

# Both cores: scripts/run-tests runs the e2e, template and scale tests beside the rest.
test: venv client-deps
	scripts/ensure-chromium
	$(BIN)/ruff check .
	scripts/run-tests

test-fast: venv client-deps
	$(BIN)/pytest -q -m "not e2e and not template"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/roomcast/roomcast local/roomcast_local

validate: venv
	$(BIN)/sam validate --lint

build: venv
	$(BIN)/sam build --parallel

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; PYTHONPATH=local:layers/roomcast:. $(BIN)/python $$b || exit 1; done

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache
