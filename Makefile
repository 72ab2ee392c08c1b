# The two commands: `make demo` and `make test`. Both create or refresh .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The real-library programs' own interpreter (sample_apps/libraries/). Without a network the
# install fails: one line says so, no stamp is left, and their tests and benchmark skip.
LIBVENV := .venv-libs
LIBSTAMP := $(LIBVENV)/.installed-stamp

.PHONY: venv libvenv demo test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "concadvisor needs Python 3.11+ (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

$(LIBSTAMP): tests/library-requirements.txt
	@if { test -x $(LIBVENV)/bin/python || $(PYTHON) -m venv $(LIBVENV); } >/dev/null 2>&1 \
	    && $(LIBVENV)/bin/python -m pip install -q --retries 2 --timeout 20 -r tests/library-requirements.txt >/dev/null 2>&1; \
	then touch $(LIBSTAMP); \
	else echo "libvenv: could not install tests/library-requirements.txt into $(LIBVENV) (no network?): the library programs' tests skip"; fi

libvenv: $(LIBSTAMP)

demo: venv
	$(BIN)/concadvisor profile sample_apps/download_and_parse.py -o reports/demo.md --json reports/demo.json

test: venv libvenv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(LIBVENV) build *.egg-info src/*.egg-info .pytest_cache
