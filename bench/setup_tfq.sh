#!/usr/bin/env bash
# Creates bench/.venv-tfq for TensorFlow Quantum (TF 2.18, tf-keras 2.18, tensorflow-quantum 0.7.6;
# cirq and sympy come with it). Idempotent: does nothing once bench/.venv-tfq/.installed exists.
# Never fails the caller: on failure pip's output stays in bench/.venv-tfq/install.log, and
# bench/run_all.py puts the error into the results table instead of TFQ's numbers.
set -u
cd "$(dirname "$0")"
VENV=.venv-tfq
PYTHON=${PYTHON:-python3}
[ -f "$VENV/.installed" ] && exit 0
mkdir -p "$VENV"
LOG="$VENV/install.log"
echo "creating $VENV (TensorFlow Quantum; a few minutes, once) - log in bench/$LOG"
if { "$PYTHON" -m venv "$VENV" \
     && "$VENV/bin/python" -m pip install -q --upgrade pip \
     && "$VENV/bin/python" -m pip install "tensorflow==2.18.*" "tf-keras==2.18.*" "tensorflow-quantum==0.7.6" \
     && TF_USE_LEGACY_KERAS=1 "$VENV/bin/python" -c "import tensorflow_quantum, cirq, sympy"; } >"$LOG" 2>&1; then
    touch "$VENV/.installed"
else
    echo "TensorFlow Quantum could not be installed (see bench/$LOG); the benchmarks run without it"
fi
exit 0
