# The few commands people type. Each installs what it needs into .venv first.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# Tests and CI read course data from ../shared/data when it is there (no network needed).
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/imagenet_val_25.npz),)
export COURSE_DATA_DIR ?= $(SHARED_DATA)
endif
export COURSE_PROGRESS ?= 0
# Tools installed beside the venv's Python (jupyter, alembic used by nbgrader) are found without activating it.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install demo test test-fast lint release references bench clean solutions student-kit

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install  ## build the student release, grade sample submissions, print the grade table
	$(PY) -m autograder demo

test: install  ## the whole suite: lint, unit tests, notebook execution, nbval, grading
	$(PY) -m ruff check .
	$(PY) -m pytest -m "slow or not slow" -p no:cacheprovider --nbval-lax tests solutions

test-fast: install  ## unit tests only
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

release: install  ## regenerate notebooks/ from solutions/ with nbgrader
	$(PY) -m autograder release

student-kit: install  ## the zip students receive (notebooks, course wheel, install README) in dist/
	$(PY) -m autograder student-kit --out dist

references: install  ## rebuild public reference outputs from the solution notebooks
	$(PY) -m autograder references

bench: install  ## print the timings quoted in the issues (model, notebooks, grading)
	$(PY) bench/bench_model.py
	$(PY) bench/bench_network_visualization.py
	$(PY) bench/bench_style_transfer.py
	$(PY) bench/bench_attribution.py
	$(PY) bench/bench_grading.py
	$(PY) bench/bench_report.py
	$(PY) bench/bench_grader_memory.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

solutions: install  ## re-execute the solution notebooks in place (their outputs are the showcase)
	COURSE_PROGRESS=0 MPLBACKEND=module://matplotlib_inline.backend_inline $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.record_timing=False solutions/*.ipynb
