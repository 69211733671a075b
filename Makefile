# One-command set-up: every target bootstraps .venv from the lock file when it is
# missing or older than the lock / pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
DATA   ?= data/synthetic/hopkins2015
OUT    ?= out
# analysis-rule overrides for make run, e.g. SET="window_halfwidth_months=1 responder_mcid=4"
SET    ?=
# random seed for make run (empty: the registered seed of a reference cohort, else 2015)
SEED   ?=

.PHONY: all venv book test check lint format run bench faults clean

all: test

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

## Render the reference edition of the book (both cohorts) into _build/html.
book: $(STAMP)
	$(BIN)/ivigbook book --jobs $(JOBS)

## Run the whole test suite (what CI runs): lint and format check, then every test.
test: lint
	$(BIN)/python -m pytest

## The fast loop (under 3 minutes on 2 cores): lint, then every test not marked slow.
check: lint
	$(BIN)/python -m pytest -m "not slow" -q

## ruff: lint and a format check (make format rewrites the files).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

## Run the book on your own cohort: make run DATA=path/to/export OUT=path/to/out [SET="name=value ..."] [SEED=S]
run: $(STAMP)
	$(BIN)/ivigbook run $(DATA) --out $(OUT) --jobs $(JOBS) $(foreach s,$(SET),--set $(s)) $(if $(SEED),--seed $(SEED))

## Performance benchmarks (not part of make test).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

## Fault-injection sweep (not part of make test): real runs killed at random points,
## SIGKILL and SIGTERM of the main process, a worker and a kernel, for seeds SEEDS.
SEEDS ?= 1-10
faults: $(STAMP)
	$(BIN)/python tests/faults/sweep.py --seeds $(SEEDS)

clean:
	rm -rf _build .pytest_cache
