# Two commands on a fresh machine with only python3: `make reports` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?=
SCENARIO ?=

.PHONY: reports test lab bench clean venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

reports: $(STAMP)
	$(PY) -m analysis reports $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(JOBS),--jobs $(JOBS))

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(PY) -m analysis bench

clean:
	rm -rf $(VENV) reports/*/ reports/index.html reports/manifest.json
