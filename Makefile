# Needs only Python 3.11: uv is bootstrapped into .uv-bootstrap, everything else comes from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv-bootstrap/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: install run run-nats test migrate lint format bench clean

$(UV):
	$(PYTHON) -m venv .uv-bootstrap
	.uv-bootstrap/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml libs/chassis/pyproject.toml services/*/pyproject.toml gateway/pyproject.toml
	$(UV) sync --all-packages --frozen --quiet
	touch $@

install: $(VENV)/.synced

run: install
	$(VENV)/bin/python scripts/run_all.py

# The same, with events over NATS JetStream (a server at CRM_NATS_URL, default nats://127.0.0.1:4222).
run-nats: install
	CRM_EVENT_TRANSPORT=nats $(VENV)/bin/python scripts/run_all.py

test: install
	$(VENV)/bin/pytest

migrate: install
	for ini in services/customer/alembic.ini services/scoring/alembic.ini services/feedback/alembic.ini gateway/alembic.ini; do \
		$(VENV)/bin/alembic -c $$ini upgrade head || exit 1; \
	done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs/chassis/src services/customer/src services/scoring/src services/feedback/src gateway/src
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(VENV)/bin/python bench/bench_customer_read.py

clean:
	rm -rf $(VENV) .uv-bootstrap var .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
