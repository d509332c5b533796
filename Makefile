# From a fresh clone on a machine with only python3 (>= 3.11) and make:
#   make demo   runs the main job
#   make test   lint, types, architecture, the full test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck arch pytest contracts bench proof mutation docs clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,plot,testing]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -c 'import taskvisor, hypothesis, matplotlib'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: lint typecheck arch pytest contracts

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src
	$(VENV)/bin/mypy --strict tests/typing --exclude 'tests/typing/misuse\.py'

arch: $(STAMP)
	$(VENV)/bin/lint-imports

pytest: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider -m "not slow"

# CrossHair contracts on the leaf arithmetic (fsm/_backoff.py, _budget.py, _intensity.py,
# _retry_budget.py), bounded in time.
contracts: $(STAMP)
	$(PY) tools/contracts.py

docs: $(STAMP)
	$(PY) -m taskvisor._specgen docs/spec
	$(PY) tools/plots.py docs/images

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks

proof: $(STAMP)
	HYPOTHESIS_PROFILE=proof $(PY) -m pytest -q -p no:cacheprovider -m "slow or not slow" tests/stateful tests/simulation
	$(PY) tools/model_check.py proof --jobs 2

# Mutation testing of the core (docs/mutation.md): about 75 min on 2 cores (_supervisor alone
# 45 min), not part of make test.
mutation: $(STAMP)
	$(PY) -m pip install --quiet 'mutmut>=3.8'
	$(PY) tools/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
