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
gate rzx(t) a, b { h b; cx a, b; rz(t) b; cx a, b; h b; }
gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }
gate iswap a, b { s a; s b; h a; cx a, b; cx b, a; h b; }
gate sxdg a { s a; h a; s a; }
gate sexc(t) a, b { cx a, b; cry(t) b, a; cx a, b; }
gate sexcp(t) a, b { sexc(t) a, b; rzz(-t/2) a, b; }
gate sexcm(t) a, b { sexc(t) a, b; rzz(t/2) a, b; }
gate dexc(t) a, b, c, d { cx c, d; cx a, c; h d; h a; cx c, d; cx a, b; ry(t/8) b; ry(-t/8) a; cx a, d; h d;
  cx d, b; ry(t/8) b; ry(-t/8) a; cx c, b; cx c, a; ry(-t/8) b; ry(t/8) a; cx d, b; h d; cx a, d;
  ry(-t/8) b; ry(t/8) a; cx a, b; cx c, a; h a; h d; cx a, c; cx c, d; }
gate pairphase(t) a, b, c, d { cx c, d; cx a, b; cx a, c; x b; x d; cp(t/2) c, d; cx b, c; cp(-t/2) c, d;
  cx b, c; cp(t/2) b, d; x b; x d; cx a, c; cx a, b; cx c, d; }
gate dexcp(t) a, b, c, d { dexc(t) a, b, c, d; pairphase(-t/2) a, b, c, d; }
gate dexcm(t) a, b, c, d { dexc(t) a, b, c, d; pairphase(t/2) a, b, c, d; }
"""
# (rzx .. sxdg: Qiskit's definitions of RZXGate, ECRGate, iSwapGate and SXdgGate up to a global phase, checked
# against Qiskit's Operator in tests/ir/test_more_gates.py; sexc .. dexcm: PennyLane's excitation gates up to a
# global phase, checked against qml.matrix in tests/ir/test_chemistry_gates.py; pairphase(t) is exp(i t) on
# |0011> and |1100>.)
_PRAGMA = re.compile(r"^\s*#pragma (braket result|qshift) expectation (.*)$", re.M)
_FACTOR = re.compile(r"([ixyz])\(q\[(\d+)\]\)")
_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TERM = re.compile(rf"([+-]?)(?:({_NUM})\*)?((?:[ixyz]\(q\[\d+\]\)@?)+)|([+-]?)({_NUM})")


def qiskit_expectations(qasm: str, values: dict[str, float]) -> np.ndarray:
    """Expectations of every output pragma of ``qasm`` at ``values`` (``braket result expectation`` products,
    and ``qshift expectation`` weighted sums, read here with a regular expression of their own)."""
    import qiskit.qasm3
    from qiskit.quantum_info import SparsePauliOp, Statevector

    observables = []  # per output: [(coefficient, [(pauli, qubit), ...]), ...]
    for kind, body in _PRAGMA.findall(qasm):
        if kind == "braket result":
            observables.append([(1.0, [(p.upper(), int(q)) for p, q in _FACTOR.findall(body) if p != "i"])])
            continue
        terms = []  # a weighted sum: "0.5 * z(q[0]) @ z(q[1]) - 0.2 * x(q[0]) + 1.1"
        for sign, number, product, csign, constant in _TERM.findall(body.replace(" ", "")):
            if product:
                c = float(number) if number else 1.0
                terms.append((-c if sign == "-" else c, [(p.upper(), int(q)) for p, q in _FACTOR.findall(product)]))
            elif constant:
                terms.append((-float(constant) if csign == "-" else float(constant), []))
        observables.append(terms)
    text = _PRAGMA.sub("", qasm)
    text = re.sub(r"\bxx\(", "rxx(", re.sub(r"\byy\(", "ryy(", re.sub(r"\bzz\(", "rzz(", text)))
    text = text.replace('include "stdgates.inc";', 'include "stdgates.inc";\n' + _EXTRA_GATES, 1)
    circuit = qiskit.qasm3.loads(text)
    bound = circuit.assign_parameters({p: values[p.name] for p in circuit.parameters})
    state = Statevector(bound)
    n = circuit.num_qubits
    out = []
    for terms in observables:
        op = SparsePauliOp.from_sparse_list([("".join(p for p, _ in f), [q for _, q in f], c) for c, f in terms], n)
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
        "rzx": lambda t, wires: qml.PauliRot(t, "ZX", wires=wires), "ecr": qml.ECR, "iswap": qml.ISWAP,
        "sxdg": lambda wires: qml.adjoint(qml.SX(wires)),
        "sexc": qml.SingleExcitation, "sexcp": qml.SingleExcitationPlus, "sexcm": qml.SingleExcitationMinus,
        "dexc": qml.DoubleExcitation, "dexcp": qml.DoubleExcitationPlus, "dexcm": qml.DoubleExcitationMinus,
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
        for out in circuit.outputs:  # a product, or a weighted sum of products (a PennyLane Hamiltonian)
            pairs = list(out.terms) if hasattr(out, "terms") else [(1.0, out)]
            products = [qml.prod(*[paulis[p](q) for q, p in pauli.factors]) if len(pauli.factors) > 1
                        else paulis[pauli.factors[0][1]](pauli.factors[0][0]) for _, pauli in pairs]
            coefficients = [c for c, _ in pairs]
            if getattr(out, "constant", 0.0):
                products.append(qml.Identity(0))
                coefficients.append(out.constant)
            measured.append(qml.expval(qml.Hamiltonian(coefficients, products) if hasattr(out, "terms")
                                       else products[0]))
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
