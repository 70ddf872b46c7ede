# Project tasks. Everything runs with the project's own virtualenv, .venv (created by `make venv`).
#   make test        clean + sync checks, then every notebook's tests and the docs test (tools/run_tests.py)
#   make test-slow   the same, also running `#| slow` cells
#   make bench       the benchmark suite (bench/run_all.py: POT, OTT-JAX, scipy, sot-loss, auraloss, korvax; medians and ratios),
#                    single-threaded (one pinned core for every library) and then at the libraries' default threading,
#                    and the same-process A/B against the code before the speed work (bench/ab_old_new.py)
#   make docs        re-execute the notebooks (fresh outputs and plots), export, build the site into _docs/ and README.md;
#                    notebooks marked `long_running: true` keep their stored outputs
#   make docs-long   the same, re-executing the long-running notebooks too
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
STAMP := $(VENV)/.installed
FLAGS ?=
# what git sees in the work tree; a step that changes it changed tracked files
GITSTATE = { git status --porcelain -uno; git diff; } | sha1sum

.PHONY: venv test test-slow docs docs-long bench clean notes experiments

venv: $(STAMP)

$(STAMP): settings.ini setup.py $(wildcard pyproject.toml)
	test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install -q -e ".[dev]"
	# sot-loss (a test/bench reference) needs torchaudio only for its Mel front end, and no torchaudio wheel here
	# loads with torch 2.13, so it is installed without dependencies; the notebooks stub torchaudio before `import sot`
	$(BIN)/pip install -q --no-deps sot-loss==0.1.5
	touch $(STAMP)

test: venv
	@s=$$($(GITSTATE)); $(BIN)/nbdev_clean; \
	if [ "$$($(GITSTATE))" != "$$s" ]; then git status --short -uno; \
	  echo "notebooks not clean: nbdev_clean changed them; commit the cleaned notebooks" >&2; exit 1; fi
	@s=$$($(GITSTATE)); $(BIN)/nbdev_export; \
	if [ "$$($(GITSTATE))" != "$$s" ]; then git status --short -uno; git --no-pager diff --stat; \
	  echo "library out of sync with notebooks: nbdev_export changed the library (it overwrites edits made in the .py files: move such edits into the notebooks with nbdev_update first), commit the exported files" >&2; exit 1; fi
	$(PY) tools/run_tests.py $(FLAGS)

test-slow:
	$(MAKE) test FLAGS=slow

docs: venv
	$(BIN)/nbdev_export
	$(PY) tools/exec_nbs.py $(EXEC_FLAGS)
	$(BIN)/nbdev_export
	@if command -v quarto >/dev/null; then \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbdev_docs; \
	else \
	  $(PY) tools/docs_pandoc.py && $(PY) tools/docs_pandoc.py --readme --no-proc; \
	fi
	@echo "docs site: $(CURDIR)/_docs/index.html"

docs-long:
	$(MAKE) docs EXEC_FLAGS=--long

bench: venv
	mkdir -p bench/results
	set -o pipefail; $(PY) bench/w1d_bench.py | tee bench/results/w1d_bench.txt
	set -o pipefail; $(PY) bench/malloc_effect.py | tee bench/results/malloc_effect.txt
	$(PY) bench/run_all.py --threads single
	$(PY) bench/run_all.py --threads default
	$(PY) bench/ab_old_new.py

# real instrument notes (issue 17): FluidR3_GM renders into experiments/notes, with the pyin check;
# installs fluidsynth and the sound font (Debian) when missing. Not part of test or docs.
notes: venv
	@if ! command -v fluidsynth >/dev/null || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then \
	  s=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$s apt-get update && DEBIAN_FRONTEND=noninteractive $$s apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm; \
	fi
	$(PY) experiments/render_notes.py --out experiments/notes --check

# the spectral-OT paper's autoencoder experiment (issue 17): trains every loss x 3 seeds in 2 worker
# processes, then the test split, the real notes (when experiments/notes exists) and sound matching;
# stores experiments/params/ and experiments/results/ (read by nbs/23_autoencoder). ~1 h on 2 cores.
experiments: venv
	$(PY) experiments/autoencoder.py all --jobs 2

clean:
	rm -rf _proc _docs build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Packaging checks (issue 18), each in its own venv, not the dev venv
MIN_PYTHON := $(shell sed -n 's/^min_python *= *//p' settings.ini)
MIN_VENV   := .venv-min
BUILD_VENV := .venv-build
.PHONY: test-min check-wheel

# core tests (tools/test_min.py) at settings.ini's jax/jaxlib/numpy floors in .venv-min; took 2m49s
test-min:
	test -x $(MIN_VENV)/bin/python || python$(MIN_PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install -q $$($(MIN_VENV)/bin/python tools/test_min.py --floors)
	rm -rf build  # pip builds in-tree: a stale build/lib would put deleted modules into the install
	$(MIN_VENV)/bin/pip install -q --no-deps --force-reinstall .
	cd $(MIN_VENV) && JAX_PLATFORMS=cpu bin/python $(CURDIR)/tools/test_min.py --at-floors

# tools/check_wheel.py: build sdist + wheel, check them, README example in a fresh venv; took 56s
check-wheel:
	test -x $(BUILD_VENV)/bin/python || python$(MIN_PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/python -c 'import build, twine' 2>/dev/null \
	  || $(BUILD_VENV)/bin/pip install -q build twine
	$(BUILD_VENV)/bin/python tools/check_wheel.py
