#!/usr/bin/env bash
# Creates .venv-mitiq, the virtualenv in which tests/peers/mitiq_zne.py runs Mitiq for the comparison of
# qshift's zero-noise extrapolation with Mitiq's own (tests/cost/test_mitigation.py). Mitiq 1.1.0 pins
# numpy<2.3, which the project's .venv (numpy 2.4) cannot hold, so Mitiq gets its own small virtualenv:
# mitiq 1.1.0 (cirq-core, scipy come with it), numpy<2.3, and ply for Cirq's OpenQASM 2 reader.
# Idempotent: nothing to do while .venv-mitiq/.installed holds the same requirements (a changed pin
# rebuilds it). Never fails the caller: on failure pip's output stays in .venv-mitiq/install.log, and
# the Mitiq test skips, naming that log.
set -u
cd "$(dirname "$0")/../.."
VENV=.venv-mitiq
PYTHON=${PYTHON:-python3}
REQUIREMENTS="mitiq==1.1.0 numpy<2.3 ply>=3.11"
STAMP="$VENV/.installed"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQUIREMENTS" ]; then
    exit 0
fi
rm -rf "$VENV"
mkdir -p "$VENV"
LOG="$VENV/install.log"
echo "creating $VENV (Mitiq 1.1.0 for the ZNE comparison test; once, about a minute) - log in $LOG"
START=$(date +%s)
# shellcheck disable=SC2086  # REQUIREMENTS is a list of words
if { "$PYTHON" -m venv "$VENV" \
     && "$VENV/bin/python" -m pip install -q --upgrade pip \
     && "$VENV/bin/python" -m pip install $REQUIREMENTS \
     && "$VENV/bin/python" -c "import mitiq, cirq, ply; from cirq.contrib.qasm_import import circuit_from_qasm; print('mitiq', mitiq.__version__, 'cirq', cirq.__version__)"; } >"$LOG" 2>&1; then
    echo "$REQUIREMENTS" >"$STAMP"
    echo "installed in $(( $(date +%s) - START )) s" | tee -a "$LOG"
else
    echo "Mitiq could not be installed (see $LOG); the Mitiq comparison test will skip"
fi
exit 0
