# `make demo` and `make test` bootstrap .venv themselves from the machine's python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export OMP_NUM_THREADS ?= 1

.PHONY: demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# One stamp per install; redone when pyproject.toml changes, instant otherwise.
$(VENV)/.installed-base: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[test]"
	@touch $@

demo: $(VENV)/.installed-base
	$(VENV)/bin/qshift run circuits/vqe-h2.qasm --values 0.2 0 0
	$(VENV)/bin/qshift run circuits/hea-4q-2l.qasm --values 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0 1.1 1.2 1.3 1.4 1.5 1.6

# Mitiq (a test-only peer of the ZNE test) pins numpy<2.3, so it gets its own small virtualenv, .venv-mitiq:
# created once (about a minute), never fatal (the test then skips, naming .venv-mitiq/install.log).
test: $(VENV)/.installed-test
	-PYTHON=$(PYTHON) bash tests/peers/setup_mitiq.sh
	$(PY) -m pytest -q --durations=15

# Every benchmark, side by side with its peers, into bench/RESULTS.md, bench/results.json and
# bench/*.png (about 15 minutes on 2 cores). TensorFlow Quantum needs TF 2.18 / Keras 2, so it gets
# its own virtualenv (bench/.venv-tfq), and so do tensorcircuit-ng on JAX and qulacs (bench/.venv-peers);
# each is created once, and a failed install is reported in the results, not fatal.
bench: $(VENV)/.installed-test
	PYTHON=$(PYTHON) bench/setup_tfq.sh
	PYTHON=$(PYTHON) bench/setup_peers.sh
	$(PY) bench/run_all.py
	$(PY) bench/threads.py --append
	$(PY) bench/mitigation.py --append

clean:
	rm -rf $(VENV) .venv-mitiq .pytest_cache
