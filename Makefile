# The course's entry points. `make book` and `make test` each do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX := .venv-sandbox
SANDBOX_STAMP := $(SANDBOX)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup release book test bench mutants clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The environment student code runs in while it is graded: NumPy and a kernel, nothing else.
$(SANDBOX_STAMP): requirements-sandbox.txt
	$(PYTHON) -m venv $(SANDBOX)
	$(SANDBOX)/bin/python -m pip install --quiet -r requirements-sandbox.txt
	touch $@

setup: $(STAMP) $(SANDBOX_STAMP)  ## the course's environment and the graders' sandbox environment

release: setup  ## student versions of every assignment (grader/course/release and the book)
	$(BIN)/python -m grader release --copy-to book/_generated/assignments

book: release  ## the HTML book in _build/html, every chapter executed (cached)
	$(BIN)/jupyter-book build . --builder html --warningiserror --keep-going

test: setup  ## the whole test suite
	$(BIN)/python -m pytest

bench: setup  ## timings: chapter execution and batch autograding
	$(BIN)/python benchmarks/bench_chapters.py
	$(BIN)/python benchmarks/bench_autograde.py

mutants: setup  ## mutation testing of every assignment's hidden tests (about 1,900 mutants, each graded)
	$(BIN)/python -m grader mutants

clean:
	rm -rf _build book/_generated grader/course
