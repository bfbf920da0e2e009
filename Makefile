# Two commands matter: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-requirements

.PHONY: install demo test lint theme-check migrate bench-import bench-quality bench-windows bench-scale bench-serving bench-sync bench-webhooks bench-woocommerce bench-fleet bench-soak clean

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

lint: install theme-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py theme_assets --check

# Shopify's Theme Check over the theme app extension (what `shopify app deploy` runs), installed
# from npm into an ignored folder named after the pinned version; any offense fails.
THEME_CHECK_VERSION := 3.29.1
THEME_CHECK_DIR := var/npm/theme-check-$(THEME_CHECK_VERSION)
THEME_CHECK := $(THEME_CHECK_DIR)/node_modules/@shopify/theme-check-node/package.json

$(THEME_CHECK):
	npm install --prefix $(THEME_CHECK_DIR) --no-save --no-audit --no-fund --loglevel=error \
		@shopify/theme-check-node@$(THEME_CHECK_VERSION)

theme-check: $(THEME_CHECK)
	NODE_PATH=$(THEME_CHECK_DIR)/node_modules node extensions/theme-check.cjs extensions/basketry-theme

bench-import: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.import_online_retail

bench-quality: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.quality.run

bench-windows: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench.quality.windows

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
