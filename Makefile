# The first two targets are all a fresh machine needs: `make demo`, `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# What is installed in the environment: the package with Numba and NumPy
# (all `make demo` needs), then the tools for tests, lint, benchmarks and the
# matrix (`make test` and the rest), then the documentation's.
BASE := $(VENV)/.base
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs

NOX := $(VENV)/bin/nox

.PHONY: demo test test-fast lint docs docs-results bench test-matrix test-corners test-corners-a test-corners-b \
	test-table test-numba test-downstream test-downstream-quick ci-lanes ci-lane-a ci-lane-b clean

demo: $(BASE)
	$(PY) examples/sum_fast.py

test: $(STAMP) lint
	$(PY) -m pytest -q

# The documentation site (docs/), warnings as errors and every reference
# resolved; HTML in docs/_build/html.
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W -n --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

# The benchmarks' latest results (make bench) become the performance page's.
docs-results:
	cp .bench/*.json docs/results/

# The unit layer for developers: everything but the end-to-end tests marked
# slow (forks, process pools, Dask clusters, the wheel, the examples).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples noxfile.py docs
	$(VENV)/bin/ruff format --check src tests benchmarks examples noxfile.py docs
	$(VENV)/bin/mypy --strict src

# Every Numba minor 0.59-0.68 on Python 3.11, and the newest Numba on Python
# 3.10, 3.12 and 3.13, each in its own uv environment; then one table.
test-matrix: $(STAMP)
	$(NOX) -s numba python; status=$$?; $(NOX) -s table; exit $$status

# The matrix's corners, which CI runs: the oldest Numba, the oldest and newest
# Python (the newest Numba on Python 3.11 is `make test` itself); two at a
# time, one per core, each half's output printed whole when it ends.
test-corners: $(STAMP)
	status=0; $(MAKE) -k -j2 --output-sync=recurse test-corners-a test-corners-b || status=1; \
	$(MAKE) test-table; exit $$status

test-corners-a: $(STAMP)
	$(NOX) -s "numba(0.59)"

test-corners-b: $(STAMP)
	$(NOX) -s python-3.10 python-3.13

# What .ci/run runs after `make test`: two lanes side by side, balanced by
# their measured times (Numba's tests are the longest piece): Numba's own
# tests then the oldest Numba | the newest Numba on the oldest and the newest
# Python.  Every piece runs even if another failed; then one table.
ci-lanes: $(STAMP)
	status=0; $(MAKE) -k -j2 --output-sync=recurse ci-lane-a ci-lane-b || status=1; \
	$(MAKE) test-table; exit $$status

ci-lane-a: $(STAMP)
	status=0; $(MAKE) test-numba || status=1; $(MAKE) test-corners-a || status=1; exit $$status

ci-lane-b: $(STAMP)
	status=0; $(MAKE) test-corners-b || status=1; $(MAKE) test-downstream-quick || status=1; exit $$status

test-table: $(STAMP)
	$(NOX) -s table

# Numba's own tests, plain and with smart_jit in place of numba.jit/njit.
test-numba: $(STAMP)
	$(PY) tests/numba_suite/run.py

# Real libraries' own tests (pinned versions, each in a uv environment under
# .downstream/) under plain Numba and `smart_jit run` in three stances; fails
# on any test that fails only with smart_jit.  The quick form is CI's.
test-downstream: $(STAMP)
	$(PY) benchmarks/downstream.py

test-downstream-quick: $(STAMP)
	$(PY) benchmarks/downstream.py --quick

# Every benchmark runs; the target fails if any of them missed a target.
bench: $(STAMP)
	status=0; \
	$(PY) benchmarks/dispatch.py || status=1; \
	$(PY) benchmarks/sum_fast.py || status=1; \
	$(PY) benchmarks/background.py || status=1; \
	$(PY) benchmarks/pickling.py || status=1; \
	$(PY) benchmarks/compile_costs.py || status=1; \
	$(PY) benchmarks/policies.py || status=1; \
	$(PY) benchmarks/downstream.py || status=1; \
	exit $$status

$(BASE): pyproject.toml
	@echo "Installing numba-smartjit with Numba and NumPy into $(VENV) (about 300 MB;"
	@echo "a minute on a fresh machine, most of it downloading Numba, llvmlite and NumPy)."
	@start=$$(date +%s); \
	python3 -m venv $(VENV) && \
	$(PY) -m pip install --quiet --upgrade pip && \
	$(PY) -m pip install --progress-bar on -e . && \
	echo "Installed in $$(( $$(date +%s) - start )) s." && touch $(BASE)

$(STAMP): $(BASE)
	@echo "Installing the test, lint, benchmark and matrix tools (pytest, Dask, mypy, ...)."
	$(PY) -m pip install --quiet -e '.[test,lint,bench,matrix]'
	touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

clean:
	rm -rf $(VENV) .nox .pytest_cache .mypy_cache .ruff_cache .hypothesis dist docs/_build docs/_generated
