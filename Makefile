# One command per chore. Each target creates .venv and installs the project when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# feedparser's test corpus, fetched once with pip (network at setup time only). A failure is
# ignored here so that the corpus test itself fails and says how to get it.
CORPUS := scripts/.cache/feedparser-corpus/.complete

$(CORPUS):
	-$(BIN)/python scripts/get_feedparser_corpus.py

test: $(STAMP) $(CORPUS)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The peer of bench/bench_fetch.py, lemon24's reader, in a venv of its own: it is compared
# against, never a dependency of the project.
READER := bench/.work/reader-venv/bin/python

$(READER):
	$(PYTHON) -m venv bench/.work/reader-venv
	$(READER) -m pip install --quiet reader sgmllib3k

bench: $(STAMP) $(READER)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf var/demo .pytest_cache .mypy_cache .ruff_cache
