# The two commands on a fresh machine: `make run` and `make test`. Both set up .venv first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data/mnist
OUTPUT_DIR ?= outputs
ARGS ?=
IMAGE ?= mnist-pipeline:latest
REGISTRY ?=

# Python 3.10: the pyenv build if there is one (pyenv's python3.10 shim may refuse while
# another version is global), else a python3.10 on the PATH.
PYTHON310 := $(shell p="$$(pyenv root 2>/dev/null)/versions/3.10.13/bin/python"; \
	if [ -x "$$p" ]; then echo "$$p"; \
	else for c in $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python 2>/dev/null) python3.10; do \
	  "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo "$$c"; break; }; done; fi)

.PHONY: setup run test test-fast lint soak bench bench-scale lock image push-image clean

# .venv/.installed is re-made when the lock or the project's metadata change. pip -qq keeps
# errors but drops the warnings this machine's pip config prints for every package.
setup: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "error: Python 3.10 not found. Install it (e.g. 'pyenv install 3.10.13') or put python3.10 on the PATH." >&2; exit 1; fi
	@[ -x $(PY) ] || { echo "Creating $(VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(VENV); }
	@echo "Installing pip 24.2"
	@$(PY) -m pip install -qq --upgrade pip==24.2
	@echo "Installing the $$(grep -c '==' requirements-dev.lock) packages pinned in requirements-dev.lock" \
	  "(TensorFlow, TFX, Beam ...: 3.7 GB, about 3 minutes the first time; quick when only a few changed)"
	@$(PY) -m pip install -qq --requirement requirements-dev.lock
	@echo "Installing this project into $(VENV) (editable)"
	@$(PY) -m pip install -qq --no-deps --no-build-isolation --editable .
	@touch $@
	@echo "$(VENV) is ready"

run: setup
	$(VENV)/bin/mnist-pipeline run --data-dir $(DATA_DIR) --output-dir $(OUTPUT_DIR) --download $(ARGS)

# -v names each test as it starts: an end-to-end test runs pipelines for minutes.
test: setup lint flink-artifacts minio
	$(PY) -m pytest -v $(ARGS)

# Lint, format and types (configured in pyproject.toml); `make test` runs them first.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Unit tests only: skips the end-to-end runs of the real pipeline (the publish lock's tests use MinIO).
test-fast: setup minio
	$(PY) -m pytest -m "not e2e" $(ARGS)

# A Flink cluster of its own JVM processes on this machine (docs/flink.md): Flink's jars, pinned
# and checked against tests/support/flink.sha256 (nothing is fetched while they match); the cluster's REST
# API, also Beam's --flink_master, on 127.0.0.1:8081; conf and logs in build/flink/cluster.
.PHONY: flink-artifacts flink-up flink-down
flink-artifacts: setup
	@PYTHONPATH=tests $(PY) -m support.flink_cluster fetch

flink-up: flink-artifacts
	@PYTHONPATH=tests $(PY) -m support.flink_cluster up

flink-down:
	@PYTHONPATH=tests $(PY) -m support.flink_cluster down

# MinIO, the tests' S3 server (tests/support/s3_server.py), built with Go from the module pinned in
# tests/minio: about 3 minutes the first time; nothing is built again while go.mod and go.sum hold.
.PHONY: minio
minio: build/minio/minio

build/minio/minio: tests/minio/go.mod tests/minio/go.sum
	@echo "Building MinIO from tests/minio/go.mod (about 3 minutes the first time)"
	@mkdir -p $(@D)
	cd tests/minio && nice -n 10 go build -o $(CURDIR)/$@.partial github.com/minio/minio
	@mv $@.partial $@

# Faults at random, the long form (docs/tests.md): SOAK_ROUNDS rounds (200 by default, about 20 s
# each), each a fault at a random moment of a pipeline run then a clean run; prints the faults
# injected and survived by kind. SOAK_SEED=N repeats a soak's choices (the seed of the day by default).
soak: setup
	PYTHONPATH=tests $(PY) -m support.random_faults

bench: setup
	$(PY) bench/benchmark.py --data-dir $(DATA_DIR) $(ARGS)

bench-scale: setup
	$(PY) bench/benchmark.py --data-dir $(DATA_DIR) --scale $(ARGS)

# Re-resolves the pinned dependency sets (needs uv: `pip install uv`): requirements-dev.lock for
# the venv (with the test tools), requirements.lock for the image (the same pins, without them).
UV_COMPILE := uv pip compile pyproject.toml --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
	--no-header --no-annotate --quiet
lock:
	$(UV_COMPILE) --extra dev --output-file requirements-dev.lock
	$(UV_COMPILE) --constraint requirements-dev.lock --output-file requirements.lock

image:
	docker build --tag $(IMAGE) .

push-image: image
	@if [ -z "$(REGISTRY)" ]; then echo "usage: make push-image REGISTRY=registry.example.com/team" >&2; exit 1; fi
	docker tag $(IMAGE) $(REGISTRY)/$(IMAGE)
	docker push $(REGISTRY)/$(IMAGE)

clean:
	rm -rf $(OUTPUT_DIR)
