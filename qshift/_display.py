"""Text and HTML views of circuits for terminals and Jupyter."""

from __future__ import annotations

import html

__all__ = ["circuit_html", "draw_text"]


def _label(op) -> str:
    return op.gate.upper() if op.angle is None else f"{op.gate.upper()}({op.angle})"


def draw_text(circuit) -> str:
    """One line per qubit; each operation takes a column, multi-qubit gates marked on every qubit.

    Example:
        >>> import qshift
        >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
        >>> print(c.draw())
        q0: ─RY(theta)─  ⟨X0⟩
    """
    rows = [[] for _ in range(circuit.n_qubits)]
    for op in circuit.operations:
        label = _label(op)
        cells = {}
        if len(op.qubits) == 1:
            cells[op.qubits[0]] = label
        else:
            for k, q in enumerate(op.qubits):
                cells[q] = f"{label}:{k}"
        width = max(len(t) for t in cells.values())
        lo, hi = min(op.qubits), max(op.qubits)
        for q in range(circuit.n_qubits):
            if q in cells:
                rows[q].append(cells[q].center(width, "─"))
            elif lo < q < hi:
                rows[q].append("│".center(width, "─"))
            else:
                rows[q].append("─" * width)
    outputs = ", ".join(f"⟨{o}⟩" for o in circuit.outputs)
    lines = [f"q{q}: ─" + "─".join(cells) + "─" for q, cells in enumerate(rows)]
    lines[0] += "  " + outputs
    return "\n".join(lines)


def circuit_html(circuit) -> str:
    """A compact HTML card: a summary table and the text drawing."""
    summary = (f"<b>{html.escape(circuit.name)}</b>: {circuit.n_qubits} qubits, {len(circuit.operations)} gates, "
               f"{circuit.n_slots} slots, symbols {html.escape(', '.join(circuit.symbols) or '—')}, "
               f"outputs {html.escape(', '.join(str(o) for o in circuit.outputs))}")
    return f"<div>{summary}<pre>{html.escape(draw_text(circuit))}</pre></div>"
