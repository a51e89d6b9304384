# `make test` and `make demo` set everything up in .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-all demo report clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet "torch>=2.5" "torchvision>=0.20"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m ""

demo: $(STAMP)
	$(VENV)/bin/sskd demo --out-dir runs/demo/$$(date +%Y%m%d-%H%M%S)

# The papers' few-shot, noisy-label, similarity and t-SNE experiments on digits, then the
# report (runs/digits_paper/report/report.md); run it again to resume.
report: $(STAMP)
	$(VENV)/bin/sskd experiment --recipe digits_paper --out runs/digits_paper

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
