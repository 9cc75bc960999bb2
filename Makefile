# The two commands: `make demo` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-hosts test-faults lint unit system-deps clean

# `make demo DEMO_ARGS=--auto-approve` also approves every draft and sends it to the simulated portals.
DEMO_ARGS ?=

demo: $(STAMP) system-deps
	$(BIN)/vhub demo $(DEMO_ARGS)

# Two test processes (CI has two cores); each module's tests stay in one of them (tests/conftest.py).
TEST_PROCESSES ?= 2

test: $(STAMP) system-deps lint
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadgroup -m "not hosts" --durations=25

# The shared deployment: workers from two working folders sharing one Redis and one PostgreSQL, killed and frozen
# mid-job, and the review app behind a proxy (about 6 minutes).
test-hosts: $(STAMP) system-deps
	$(BIN)/pytest -m hosts

# The fault run (docs/faults.md): each fault alone, then all together, on the simulated stack; its table, and a
# non-zero exit on any loss, duplicate or breach `vhub verify` finds. About 30 minutes on 2 cores; `make test`
# runs a reduced one.
test-faults: $(STAMP) system-deps
	$(BIN)/vhub faults run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not integration and not browser"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# redis-server, PostgreSQL (the tests start a throwaway cluster of their own) and a Chromium: installed with
# apt-get when running as root, else the command to run is printed. Without a system Chromium, Playwright's own
# build is fetched where that is possible.
system-deps: $(STAMP)
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		missing="$$missing postgresql"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then \
		case "$$missing" in *redis-server*) \
			echo "redis-server is missing. Install it with: sudo apt-get install -y redis-server" >&2; exit 1;; \
		esac; \
		case "$$missing" in *postgresql*) \
			echo "PostgreSQL is missing. Install it with: sudo apt-get install -y postgresql" >&2; exit 1;; \
		esac; \
		echo "No system Chromium: fetching Playwright's own (or run: sudo apt-get install -y chromium)"; \
		$(BIN)/python -m playwright install chromium || { \
			echo "Could not get a Chromium. Install it with: sudo apt-get install -y chromium" >&2; exit 1; }; \
	fi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
