# Thin wrappers. Every target bootstraps .venv itself; the venv is reinstalled only when
# pyproject.toml changes (the stamp file carries a hash of it).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib;print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:16])")
JOBS   ?= 2

PROFILE ?= quick
FORCE   ?=

.PHONY: venv test book reproduce data-smoke data-quick clean-venv clean-checkpoints

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,render,book]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# The tests on $(JOBS) processes (pytest-xdist); the tests that read the session's smoke book
# stay on one of them (tests/conftest.py), which builds it once.
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup

# Build the HTML book from the committed results (minutes): rows out of date with the code are
# marked as such, never rerun here. `make reproduce` brings them up to date (hours at quick).
book: $(STAMP)
	$(VENV)/bin/relight book --profile $(PROFILE)

# Rerun the rows of the profile whose notebook, parameters, data or library files changed
# (FORCE=1: every row), one at a time; each finished row is written at once (at quick, the
# committed _toc.yml then lists any new run page).
reproduce: $(STAMP)
	$(VENV)/bin/relight reproduce --profile $(PROFILE) --jobs 1 $(if $(FORCE),--force,)

data-smoke: $(STAMP)
	$(VENV)/bin/relight render --preset smoke --jobs $(JOBS)

data-quick: $(STAMP)
	$(VENV)/bin/relight render --preset quick --jobs $(JOBS)

clean-venv:
	rm -rf $(VENV)

# Training checkpoints (with Adam's state, for resume and for rows that share a training) take
# ~14 GB after a full quick build. Deleting them costs only time: a rerun row or `relight try`
# then trains again instead of reusing a finished training.
clean-checkpoints:
	rm -rf _build/checkpoints
