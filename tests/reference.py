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


def pennylane_qnode(circuit, device: str = "default.qubit"):
    """A PennyLane QNode built op by op from a qshift circuit, taking the symbol values as one array.

    Angles ``a * symbol + b`` are written as PennyLane arithmetic on the trainable array, so
    PennyLane applies its own chain rule; shift rules and Hessians are then PennyLane's own.
    """
    import pennylane as qml

    ops = {
        "rx": qml.RX, "ry": qml.RY, "rz": qml.RZ, "p": qml.PhaseShift, "crx": qml.CRX, "cry": qml.CRY,
        "crz": qml.CRZ, "cp": qml.ControlledPhaseShift, "rxx": qml.IsingXX, "ryy": qml.IsingYY,
        "rzz": qml.IsingZZ, "x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ, "h": qml.Hadamard, "s": qml.S,
        "sdg": lambda wires: qml.adjoint(qml.S(wires)), "t": qml.T, "tdg": lambda wires: qml.adjoint(qml.T(wires)),
        "sx": qml.SX, "cx": qml.CNOT, "cy": qml.CY, "cz": qml.CZ, "ch": qml.CH, "swap": qml.SWAP,
        "ccx": qml.Toffoli, "cswap": qml.CSWAP, "id": qml.Identity,
    }
    paulis = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}
    index = {s: i for i, s in enumerate(circuit.symbols)}
    dev = qml.device(device, wires=circuit.n_qubits)

    @qml.qnode(dev, diff_method="parameter-shift", max_diff=2)
    def qnode(x):
        for op in circuit.operations:
            wires = list(op.qubits)
            if op.angle is None:
                ops[op.gate](wires=wires)
            elif op.angle.symbol is None:
                ops[op.gate](op.angle.b, wires=wires)
            else:
                ops[op.gate](op.angle.a * x[index[op.angle.symbol]] + op.angle.b, wires=wires)
        measured = []
        for out in circuit.outputs:
            obs = [paulis[p](q) for q, p in out.factors]
            prod = obs[0]
            for o in obs[1:]:
                prod = prod @ o
            measured.append(qml.expval(prod))
        return tuple(measured)

    return qnode


def pennylane_derivatives(circuit, values):
    """Value, Jacobian (param_shift) and Hessian (param_shift_hessian) from PennyLane, as arrays
    shaped (n_out,), (n_out, n), (n_out, n, n)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    qnode = pennylane_qnode(circuit)
    x = pnp.array(values, requires_grad=True)
    value = np.array(qnode(x), dtype=float).reshape(circuit.n_outputs)
    jac = np.array(qml.gradients.param_shift(qnode)(x), dtype=float).reshape(circuit.n_outputs, -1)
    hess = np.array(qml.gradients.param_shift_hessian(qnode)(x), dtype=float)
    return value, jac, hess.reshape(circuit.n_outputs, len(values), len(values))
