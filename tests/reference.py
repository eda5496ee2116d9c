"""Independent references for tests: Qiskit parses the OpenQASM text itself and computes
expectation values with ``Statevector``. Nothing here goes through qshift's parser or simulator."""

from __future__ import annotations

import re

import numpy as np

# Gates outside stdgates.inc, defined for Qiskit's importer by their textbook circuits.
_EXTRA_GATES = """
gate rzz(t) a, b { cx a, b; rz(t) b; cx a, b; }
gate rxx(t) a, b { h a; h b; cx a, b; rz(t) b; cx a, b; h a; h b; }
gate ryy(t) a, b { rx(pi/2) a; rx(pi/2) b; cx a, b; rz(t) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b; }
"""
_PRAGMA = re.compile(r"^\s*#pragma braket result expectation (.*)$", re.M)
_FACTOR = re.compile(r"([ixyz])\(q\[(\d+)\]\)")


def qiskit_expectations(qasm: str, values: dict[str, float]) -> np.ndarray:
    """Expectations of every ``#pragma braket result expectation`` of ``qasm`` at ``values``."""
    import qiskit.qasm3
    from qiskit.quantum_info import SparsePauliOp, Statevector

    observables = []
    for body in _PRAGMA.findall(qasm):
        factors = _FACTOR.findall(body)
        observables.append([(p.upper(), int(q)) for p, q in factors if p != "i"])
    text = _PRAGMA.sub("", qasm)
    text = re.sub(r"\bxx\(", "rxx(", re.sub(r"\byy\(", "ryy(", re.sub(r"\bzz\(", "rzz(", text)))
    text = text.replace('include "stdgates.inc";', 'include "stdgates.inc";\n' + _EXTRA_GATES, 1)
    circuit = qiskit.qasm3.loads(text)
    bound = circuit.assign_parameters({p: values[p.name] for p in circuit.parameters})
    state = Statevector(bound)
    n = circuit.num_qubits
    out = []
    for factors in observables:
        if not factors:
            out.append(1.0)
            continue
        op = SparsePauliOp.from_sparse_list([("".join(p for p, _ in factors), [q for _, q in factors], 1.0)], n)
        out.append(float(np.real(state.expectation_value(op))))
    return np.array(out)
