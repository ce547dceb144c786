# Two commands do everything on a fresh machine (Python 3.11+ and make):
#   make demo   - the end-to-end demo: dev server, LiveKit stand-in, worker, a transfer
#   make test   - lint, types and the whole test suite (starts its own Temporal server)
# Both create .venv and install the project on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench bench-quick reliability reliability-real \
	browser node-example real-livekit conformance clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m warm_transfer.demo $(ARGS)

test: install browser node-example real-livekit lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(ARGS)

# The benchmark (docs/benchmark.md): prints the table, writes bench/results.json.
bench: install
	$(BIN)/python -m bench $(ARGS)

bench-quick: install
	$(BIN)/python -m bench --quick $(ARGS)

# The fault suite: every fault injected into N transfers through real processes; prints
# the README's reliability table (ARGS="-n 10").
reliability: install
	$(BIN)/python -m warm_transfer.faultsuite $(ARGS)

# The same on real livekit-server, livekit-sip, Redis and sipp phones (docs/reliability.md,
# "On the real stack"): the README's real table, N = 5 per row (ARGS="-n 10").
reliability-real: real-livekit
	$(BIN)/python -m warm_transfer.faultsuite --livekit real -n 5 $(ARGS)

# Headless Chromium for the Temporal UI test (Debian's package); skipped when absent.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: the Temporal UI browser test will be skipped"; }

# @temporalio/client for the Node example's test; skipped when npm is absent.
node-example: examples/node/node_modules/.package-lock.json

examples/node/node_modules/.package-lock.json: examples/node/package-lock.json
	@command -v npm >/dev/null 2>&1 && (cd examples/node && npm ci --silent --no-audit --no-fund) \
		|| echo "npm not available: the Node example test will be skipped"

# The real LiveKit tier (docs/real-livekit.md): Debian's redis-server, sipp, opus/soxr,
# espeak-ng and tcpdump
# (as root), then livekit-server and livekit-sip from their pinned Go modules into
# .cache/livekit, once. What this machine cannot build is written down with the reason;
# the real tier then prints that reason and is skipped.
real-livekit: install
	@command -v go >/dev/null 2>&1 || { echo "real-livekit: no Go toolchain: the real LiveKit tier needs Go 1.26+ (it will be skipped)"; exit 0; }; \
		$(BIN)/python -m warm_transfer.realstack.build

# The conformance probes' real column, recorded (needs the real stack, livekit-sip too).
conformance: real-livekit
	$(BIN)/python -m warm_transfer.conformance --livekit real --write tests/conformance/real.json

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache test-output
