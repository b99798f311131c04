# Thin wrappers. Every target bootstraps .venv itself; the venv is reinstalled only when
# pyproject.toml changes (the stamp file carries a hash of it).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib;print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest()[:16])")
JOBS   ?= 2

PROFILE ?= quick
FORCE   ?=

.PHONY: venv test book data-smoke data-quick clean-venv clean-checkpoints

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,render,book]'
	@rm -f $(VENV)/.installed-*
	@touch $@

test: $(STAMP)
	$(PY) -m pytest

# Bring the profile's results up to date (rows whose cache key changed), then build the HTML book.
book: $(STAMP)
	$(VENV)/bin/relight reproduce --profile $(PROFILE) --jobs 1 $(if $(FORCE),--force,)
	$(VENV)/bin/relight book --profile $(PROFILE)

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
