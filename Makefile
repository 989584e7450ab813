# The first two targets are all a fresh machine needs: `make demo`, `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NOX := $(VENV)/bin/nox

.PHONY: demo test test-fast lint bench test-matrix test-corners test-corners-a test-corners-b test-table test-numba clean

demo: $(STAMP)
	$(PY) examples/sum_fast.py

test: $(STAMP) lint
	$(PY) -m pytest -q

# The unit layer for developers: everything but the end-to-end tests marked
# slow (forks, process pools, Dask clusters, the wheel, the examples).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples noxfile.py
	$(VENV)/bin/ruff format --check src tests benchmarks examples noxfile.py
	$(VENV)/bin/mypy --strict src

# Every Numba minor 0.59-0.68 on Python 3.11, and the newest Numba on Python
# 3.10, 3.12 and 3.13, each in its own uv environment; then one table.
test-matrix: $(STAMP)
	$(NOX) -s numba python; status=$$?; $(NOX) -s table; exit $$status

# The matrix's corners, which CI runs: the oldest Numba, the oldest and newest
# Python (the newest Numba on Python 3.11 is `make test` itself); two at a
# time, one per core.
test-corners: $(STAMP)
	mkdir -p .nox
	$(MAKE) test-corners-a > .nox/corners-a.log 2>&1 & a=$$!; \
	$(MAKE) test-corners-b > .nox/corners-b.log 2>&1; b=$$?; \
	wait $$a; a=$$?; cat .nox/corners-a.log .nox/corners-b.log; \
	$(MAKE) test-table; [ $$a -eq 0 ] && [ $$b -eq 0 ]

# The halves of the corners (.ci/run runs them side by side, the first after
# Numba's own tests), and the table of whatever cells have run.
test-corners-a: $(STAMP)
	$(NOX) -s "numba(0.59)"

test-corners-b: $(STAMP)
	$(NOX) -s python-3.10 python-3.13

test-table: $(STAMP)
	$(NOX) -s table

# Numba's own tests, plain and with smart_jit in place of numba.jit/njit.
test-numba: $(STAMP)
	$(PY) tests/numba_suite/run.py

# Every benchmark runs; the target fails if any of them missed a target.
bench: $(STAMP)
	status=0; \
	$(PY) benchmarks/dispatch.py || status=1; \
	$(PY) benchmarks/sum_fast.py || status=1; \
	$(PY) benchmarks/background.py || status=1; \
	$(PY) benchmarks/pickling.py || status=1; \
	$(PY) benchmarks/compile_costs.py || status=1; \
	$(PY) benchmarks/policies.py || status=1; \
	exit $$status

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint,bench,matrix]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .nox .pytest_cache .mypy_cache .ruff_cache .hypothesis dist
