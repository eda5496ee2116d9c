"""Mitiq's own zero-noise extrapolation, served to a test over pipes (run with .venv-mitiq's Python).

Mitiq 1.1.0 pins ``numpy<2.3``, so it cannot live in the project's virtualenv: ``tests/peers/setup_mitiq.sh``
builds ``.venv-mitiq`` and :class:`tests.peers.mitiq_peer.MitiqPeer` starts this script there. Circuits
travel as OpenQASM 2 text with concrete angles (Cirq's reader takes OpenQASM 2), numbers as JSON.

One JSON request per line on stdin, one JSON answer per line on stdout:

* ``{"op": "versions"}`` -> ``{"mitiq": ..., "cirq": ..., "numpy": ...}``
* ``{"op": "fold", "qasm": [text, ...], "scale_factors": [1, 3, 5]}`` -> ``{"folded": [[text per scale
  factor] per circuit]}``: ``mitiq.zne.scaling.fold_global`` of each circuit (as Cirq reads it) at each
  scale factor, written back as OpenQASM 2 with 17 significant digits. One change of spelling only: Cirq
  writes ``CNOT**-1`` (the inverse Mitiq's fold inserts) as a decomposition, so operations equal to
  ``cirq.CNOT`` (``CNOT**-1`` is) are written as ``cx``, the same gate.
* ``{"op": "extrapolate", "method": "richardson" | "linear", "scale_factors": [...], "values": [[y at each
  scale factor], ...]}`` -> ``{"values": [zero-noise value per row]}``: the static
  ``RichardsonFactory.extrapolate`` / ``LinearFactory.extrapolate``.

A request that fails is answered ``{"error": "..."}``; end of input ends the script. Nothing here is
imported by the project's own tests (Mitiq and Cirq are imported in :func:`main` only).
"""

import json
import sys
import traceback


def main() -> None:
    import cirq
    import mitiq
    import numpy as np
    from cirq.contrib.qasm_import import circuit_from_qasm
    from mitiq.zne.inference import LinearFactory, RichardsonFactory
    from mitiq.zne.scaling import fold_global

    def to_qasm(circuit, qubits) -> str:
        plain = cirq.map_operations(circuit, lambda op, _: cirq.CNOT(*op.qubits) if op.gate == cirq.CNOT else op)
        return plain.to_qasm(precision=17, qubit_order=qubits)

    def fold(request: dict) -> dict:
        out = []
        for text in request["qasm"]:
            circuit = circuit_from_qasm(text)
            qubits = sorted(circuit.all_qubits())
            out.append([to_qasm(fold_global(circuit, float(s)), qubits) for s in request["scale_factors"]])
        return {"folded": out}

    def extrapolate(request: dict) -> dict:
        factory = {"richardson": RichardsonFactory, "linear": LinearFactory}[request["method"]]
        scales = [float(s) for s in request["scale_factors"]]
        return {"values": [float(factory.extrapolate(scales, [float(y) for y in row])) for row in request["values"]]}

    ops = {"fold": fold, "extrapolate": extrapolate,
           "versions": lambda _: {"mitiq": mitiq.__version__, "cirq": cirq.__version__, "numpy": np.__version__}}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            answer = ops[request["op"]](request)
        except Exception:  # noqa: BLE001 - the test shows Mitiq's own error
            answer = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
