# Two commands matter: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-requirements

.PHONY: install demo test lint migrate bench-import bench-quality bench-scale bench-serving bench-sync bench-webhooks bench-woocommerce bench-fleet bench-soak clean

$(INSTALLED): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@cp requirements.txt $(INSTALLED)

install: $(INSTALLED)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Embedded mode unless DATABASE_URL / REDIS_URL are set: no services needed.
demo: migrate
	DEBUG=1 $(BIN)/python manage.py demo
	DEBUG=1 $(BIN)/python manage.py runserver --noreload 127.0.0.1:8000

# PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set; the report header says which ran.
test: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench-import: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.import_online_retail

bench-quality: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.quality.run

bench-scale: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.quality.scale 1 4 16

bench-serving: install
	$(BIN)/python -m bench.serving

bench-sync: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.shopify_sync

bench-webhooks: install
	$(BIN)/python -m bench.webhooks

bench-woocommerce: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.woocommerce_sync

# DATABASE_URL names the PostgreSQL server; the benches start a private Redis of their own.
bench-fleet: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.fleet

bench-soak: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.soak --minutes 10

clean:
	rm -rf $(VENV) var .pytest_cache
