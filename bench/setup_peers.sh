#!/usr/bin/env bash
# Creates bench/.venv-peers for the fastest simulator peers (bench/fast_peers.py): tensorcircuit-ng 1.10 on
# JAX (CPU, float64) and qulacs, with whatever NumPy pip resolves for them. qshift is not installed there.
# Idempotent: does nothing once bench/.venv-peers/.installed exists. Never fails the caller: on failure
# pip's output stays in bench/.venv-peers/install.log, and bench/run_all.py puts the error into the results
# table instead of the peers' numbers.
set -u
cd "$(dirname "$0")"
VENV=.venv-peers
PYTHON=${PYTHON:-python3}
[ -f "$VENV/.installed" ] && exit 0
mkdir -p "$VENV"
LOG="$VENV/install.log"
echo "creating $VENV (tensorcircuit-ng on JAX, qulacs; a few minutes, once) - log in bench/$LOG"
if { "$PYTHON" -m venv "$VENV" \
     && "$VENV/bin/python" -m pip install -q --upgrade pip \
     && "$VENV/bin/python" -m pip install "tensorcircuit-ng==1.10.*" "jax[cpu]" qulacs numpy \
     && "$VENV/bin/python" -c "import jax, tensorcircuit, qulacs, numpy; tensorcircuit.set_backend('jax')"; } >"$LOG" 2>&1; then
    touch "$VENV/.installed"
else
    echo "The simulator peers could not be installed (see bench/$LOG); the benchmarks run without them"
fi
exit 0
