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

.PHONY: all venv book test run bench clean

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

## Run the whole test suite (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest

## Run the book on your own cohort: make run DATA=path/to/export OUT=path/to/out [SET="name=value ..."]
run: $(STAMP)
	$(BIN)/ivigbook run $(DATA) --out $(OUT) --jobs $(JOBS) $(foreach s,$(SET),--set $(s))

## Performance benchmarks (not part of make test).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build .pytest_cache
