"""Text, SVG and HTML views of circuits, plans, derivative results and estimates.

A terminal gets :func:`draw_text`; Jupyter gets the ``_repr_html_`` of each
object, built here: a circuit as an SVG drawing under a one-line summary, a
plan, a result and an estimate as small tables of counts, errors and prices.

Layout. Operations are packed into columns: an operation goes into the first
column after every earlier operation that touches a qubit in its span (the
qubits from its lowest to its highest, since its connecting line crosses the
ones between). Controls are drawn as ``●``, a CX/CCX target as ``⊕``, a SWAP
as two ``×``, and every other gate as a box with its name and angle.

Every name that reaches HTML or SVG (circuit, symbols, device, currency) is
escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from qshift._format import format_affine

__all__ = ["circuit_html", "circuit_svg", "derivatives_html", "draw_text", "estimate_html", "plan_html", "text_table"]

# Gates drawn with control dots: name -> (number of controls, label of what the controls act on).
_CONTROLLED = {"cx": (1, "X"), "cy": (1, "Y"), "cz": (1, "Z"), "ch": (1, "H"), "ccx": (2, "X"),
               "cswap": (1, "SWAP"), "crx": (1, "RX"), "cry": (1, "RY"), "crz": (1, "RZ"), "cp": (1, "P")}
_CONTROL, _TARGET_X, _SWAP = "●", "⊕", "×"
_SVG_LIMIT = 2000  # operations; larger circuits are shown as text in HTML


# -- layout -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Glyph:
    """What one operation draws: a cell per qubit it touches, and the span its line crosses."""

    cells: dict[int, str]
    lo: int
    hi: int


def _angle(op) -> str:
    """``(a*symbol + b)`` with short numbers (multiples of pi by name, else 4 significant digits)."""
    if op.angle is None:
        return ""
    return f"({format_affine(op.angle.symbol, op.angle.a, op.angle.b, digits=4)})"


def _glyph(op) -> _Glyph:
    qubits = op.qubits
    if op.gate in _CONTROLLED:
        n_controls, target = _CONTROLLED[op.gate]
        cells = {q: _CONTROL for q in qubits[:n_controls]}
        for q in qubits[n_controls:]:
            if target == "X":
                cells[q] = _TARGET_X
            elif target == "SWAP":
                cells[q] = _SWAP
            elif op.gate == "cz":
                cells[q] = _CONTROL
            else:
                cells[q] = target + _angle(op)
    elif op.gate == "swap":
        cells = {q: _SWAP for q in qubits}
    else:
        cells = {q: op.gate.upper() + _angle(op) for q in qubits}
    return _Glyph(cells, min(qubits), max(qubits))


def _columns(circuit) -> list[list[_Glyph]]:
    """Operations packed into columns (see the module notes)."""
    free = [0] * circuit.n_qubits  # first column where each qubit is free
    columns: list[list[_Glyph]] = []
    for op in circuit.operations:
        g = _glyph(op)
        col = max(free[g.lo:g.hi + 1])
        if col == len(columns):
            columns.append([])
        columns[col].append(g)
        for q in range(g.lo, g.hi + 1):
            free[q] = col + 1
    return columns


def _outputs_text(circuit) -> str:
    return ", ".join(f"⟨{o.short() if hasattr(o, 'short') else o}⟩" for o in circuit.outputs) or "none"


# -- text ---------------------------------------------------------------------------------------------

def _text_column(glyphs: list[_Glyph], n_qubits: int) -> list[str]:
    cells = ["─"] * n_qubits
    for g in glyphs:
        for q in range(g.lo + 1, g.hi):
            cells[q] = "│"
        for q, text in g.cells.items():
            cells[q] = text
    width = max(len(c) for c in cells)
    return [c.center(width, "─") for c in cells]


def draw_text(circuit, max_width: int | None = None) -> str:
    """One line per qubit, gates packed into columns, then the outputs.

    Args:
        circuit: the circuit.
        max_width: fold the drawing into blocks at most this many characters wide
            (``None``: one block); a fold is marked ``»`` / ``«``.

    Example:
        >>> import qshift
        >>> b = qshift.CircuitBuilder(3, name="demo")
        >>> theta = b.input("theta")
        >>> c = b.h(0).ry(theta, 2).cx(0, 2).crz(2 * theta, 1, 0).expectation("Z0 X2").build()
        >>> print(c.draw())
        q0: ─────H─────●─RZ(2*theta)─
        q1: ───────────│──────●──────
        q2: ─RY(theta)─⊕─────────────
        outputs: ⟨Z0 X2⟩
    """
    label = [f"q{q}: " for q in range(circuit.n_qubits)]
    pad = max((len(t) for t in label), default=0)
    label = [t.rjust(pad) for t in label]
    columns = [_text_column(col, circuit.n_qubits) for col in _columns(circuit)]
    blocks, current, used = [], [], 0
    budget = None if max_width is None else max(1, max_width - pad - 4)
    for col in columns:
        w = len(col[0]) + 1
        if budget is not None and current and used + w > budget:
            blocks.append(current)
            current, used = [], 0
        current.append(col)
        used += w
    blocks.append(current)
    lines = []
    for i, block in enumerate(blocks):
        head = "«" if i else "─"
        tail = "»" if i < len(blocks) - 1 else "─"
        for q in range(circuit.n_qubits):
            lines.append(label[q] + head + "─".join(col[q] for col in block) + tail)
        if i < len(blocks) - 1:
            lines.append("")
    lines.append(f"outputs: {_outputs_text(circuit)}")
    return "\n".join(lines)


# -- SVG ----------------------------------------------------------------------------------------------

_ROW, _CHAR, _FONT = 36, 7.3, 12  # row height, monospace character width and font size (px)
_STYLE = ('font-family="ui-monospace,SFMono-Regular,Menlo,Consolas,monospace" font-size="12"')


def _svg_width(text: str) -> float:
    return len(text) * _CHAR


def _svg_column_width(glyphs: list[_Glyph]) -> float:
    boxes = [_svg_width(t) + 14 for g in glyphs for t in g.cells.values() if t not in (_CONTROL, _TARGET_X, _SWAP)]
    return max(boxes + [26.0])


def _svg_glyph(g: _Glyph, x: float, y) -> list[str]:
    parts = []
    if g.hi > g.lo:
        parts.append(f'<line x1="{x:.1f}" y1="{y(g.lo)}" x2="{x:.1f}" y2="{y(g.hi)}" stroke="#333"/>')
    for q, text in g.cells.items():
        cy = y(q)
        if text == _CONTROL:
            parts.append(f'<circle cx="{x:.1f}" cy="{cy}" r="4" fill="#333"/>')
        elif text == _TARGET_X:
            parts.append(f'<circle cx="{x:.1f}" cy="{cy}" r="9" fill="white" stroke="#333"/>'
                         f'<line x1="{x - 9:.1f}" y1="{cy}" x2="{x + 9:.1f}" y2="{cy}" stroke="#333"/>'
                         f'<line x1="{x:.1f}" y1="{cy - 9}" x2="{x:.1f}" y2="{cy + 9}" stroke="#333"/>')
        elif text == _SWAP:
            parts.append(f'<path d="M{x - 5:.1f},{cy - 5} l10,10 M{x - 5:.1f},{cy + 5} l10,-10" stroke="#333"/>')
        else:
            w = _svg_width(text) + 10
            fill = "#e8f0fe" if "(" in text else "#f3f3f3"
            parts.append(f'<rect x="{x - w / 2:.1f}" y="{cy - 11}" width="{w:.1f}" height="22" rx="3" '
                         f'fill="{fill}" stroke="#333"/>'
                         f'<text x="{x:.1f}" y="{cy + 4}" text-anchor="middle">{html.escape(text)}</text>')
    return parts


def circuit_svg(circuit) -> str:
    """The circuit as a standalone SVG document: wires, gate boxes, controls and targets.

    Example:
        >>> import qshift, xml.etree.ElementTree as ET
        >>> svg = circuit_svg(qshift.Circuit.from_qasm(qshift.circuit_path("sin")))
        >>> ET.fromstring(svg).tag
        '{http://www.w3.org/2000/svg}svg'
    """
    columns = _columns(circuit)
    widths = [_svg_column_width(col) for col in columns]
    left = 12 + _svg_width(f"q{max(circuit.n_qubits - 1, 0)}") + 10
    width = left + sum(w + 8 for w in widths) + 16
    height = _ROW * max(circuit.n_qubits, 1) + 8
    y = lambda q: int(_ROW * q + _ROW / 2 + 4)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
             f'viewBox="0 0 {width:.0f} {height}" {_STYLE}>',
             f"<title>{html.escape(circuit.name)}</title>"]
    for q in range(circuit.n_qubits):
        parts.append(f'<text x="8" y="{y(q) + 4}">q{q}</text>'
                     f'<line x1="{left - 4:.1f}" y1="{y(q)}" x2="{width - 8:.1f}" y2="{y(q)}" stroke="#333"/>')
    x = left
    for col, w in zip(columns, widths):
        for g in col:
            parts.extend(_svg_glyph(g, x + w / 2 + 4, y))
        x += w + 8
    parts.append("</svg>")
    return "".join(parts)


# -- HTML cards ---------------------------------------------------------------------------------------

def text_table(rows: list[list[str]], *, left: int = 1, widths: tuple[int, ...] = ()) -> str:
    """Rows of cells as aligned text: each column as wide as its widest cell (at least ``widths``),
    two spaces between columns, the first ``left`` columns left-aligned and the others right-aligned.

    Example:
        >>> print(text_table([["", "circuits"], ["planned", "2,081,000,000,000"]]))
                          circuits
        planned  2,081,000,000,000
    """
    n = max(len(r) for r in rows)
    rows = [list(r) + [""] * (n - len(r)) for r in rows]
    width = [max([len(r[i]) for r in rows] + [widths[i] if i < len(widths) else 0]) for i in range(n)]
    align = lambda i, text: text.ljust(width[i]) if i < left else text.rjust(width[i])
    return "\n".join("  ".join(align(i, text) for i, text in enumerate(r)).rstrip() for r in rows)


_CARD = '<div class="qshift" style="font-family:sans-serif;font-size:13px;line-height:1.4">{}</div>'
_CELL = 'style="padding:2px 10px;text-align:{}"'


def _table(header: list[str], rows: list[list], align_first: str = "left") -> str:
    """An HTML table; every cell is escaped (numbers get thousands separators)."""
    def cell(tag: str, value, first: bool) -> str:
        text = f"{value:,}" if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else str(value)
        return f"<{tag} {_CELL.format(align_first if first else 'right')}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", h, i == 0) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", v, i == 0) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<table style="border-collapse:collapse;margin:4px 0"><tr>{head}</tr>{body}</table>'


def _names(names, limit: int = 8) -> str:
    names = list(names)
    shown = ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")
    return shown or "none"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def circuit_html(circuit) -> str:
    """A card: name and counts, the SVG drawing (text above a size limit), the outputs."""
    summary = (f"<b>{html.escape(circuit.name)}</b>: {_plural(circuit.n_qubits, 'qubit')}, "
               f"{_plural(len(circuit.operations), 'gate')}, {_plural(circuit.n_slots, 'slot')}; "
               f"symbols {html.escape(_names(circuit.symbols))}")
    if len(circuit.operations) <= _SVG_LIMIT:
        drawing = f'<div style="overflow-x:auto">{circuit_svg(circuit)}</div>'
    else:
        drawing = f"<pre>{html.escape(draw_text(circuit))}</pre>"
    outputs = f"outputs: {html.escape(_outputs_text(circuit))}"
    return _CARD.format(f"{summary}{drawing}{outputs}")


def plan_html(plan) -> str:
    """A card: what the plan runs, against per-entry stencils and naive nesting."""
    c = plan.circuit
    wrt = [c.symbols[i] for i in plan.wrt]
    head = (f"<b>Plan</b> for <b>{html.escape(c.name)}</b>: orders {html.escape(str(list(plan.orders)))} "
            f"of {_plural(len(wrt), 'symbol')} ({html.escape(_names(wrt))}) × {_plural(plan.rows, 'row')}, "
            f"rule {html.escape(plan.rule)}")
    planned = plan.circuits
    ratio = lambda n: "—" if not planned else f"{n / planned:.2f}×"
    rows = [["planned (merged)", planned, "1.00×"],
            ["per-entry stencils", plan.unmerged_circuits, ratio(plan.unmerged_circuits)],
            ["naive nesting", plan.naive_circuits, ratio(plan.naive_circuits)]]
    notes = "".join(f"<br><i>{html.escape(n)}</i>" for n in plan.notes)
    return _CARD.format(head + _table(["", "circuits", "vs planned"], rows) + notes)


def derivatives_html(d) -> str:
    """A card: the tensors' shapes and largest entries (and standard errors), and what ran."""
    c, s = d.plan.circuit, d.stats
    head = f"<b>Derivatives</b> of <b>{html.escape(c.name)}</b>"
    header = ["order", "shape", "max |entry|"] + (["max std. error"] if d.stderr is not None else [])
    rows = []
    for k, v in sorted(d.tensors.items()):
        row = [_order_name(k), str(v.shape), _number(np.max(np.abs(v))) if v.size else "—"]
        if d.stderr is not None:
            row.append(_number(np.max(d.stderr[k])) if d.stderr[k].size else "—")
        rows.append(row)
    ran_header = ["", "circuits", "jobs", "executions", "shots", "cache hits"]
    ran = ["ran", s.circuits, s.jobs, s.executions, s.shots, s.cache_hits]
    for name, label in (("from_store", "from store"), ("reattached", "re-attached")):
        if getattr(s, name, 0):
            ran_header.append(label)
            ran.append(getattr(s, name))
    plan_line = (f"planned {_plural(d.plan.circuits, 'circuit')} (rule {d.plan.rule}); naive nesting would run "
                 f"{d.plan.naive_circuits:,}")
    return _CARD.format(head + _table(header, rows) + _table(ran_header, [ran]) + html.escape(plan_line))


def _order_name(k: int) -> str:
    return {0: "0 (value)", 1: "1 (Jacobian)", 2: "2 (Hessian)"}.get(k, str(k))


def _number(x) -> str:
    """A result's magnitude with 4 significant digits (a value, not an angle: no pi names)."""
    return f"{float(x):.4g}"


def estimate_html(e) -> str:
    """A card: planned and naive circuits, executions, tasks, shots and price, and the saving."""
    shots = getattr(e, "shots_text", None) or (
        "exact" if e.shots_per_execution is None else f"{e.shots_per_execution:,} shots per execution")
    head = (f"<b>Estimate</b>: <b>{html.escape(e.circuit)}</b> orders {html.escape(str(list(e.orders)))} "
            f"× {_plural(e.rows, 'row')} on <b>{html.escape(e.device)}</b> — "
            f"{_plural(e.groups, 'measurement group')}, {html.escape(shots)}")
    timed = e.planned.seconds is not None
    header = ["", "circuits", "executions", "tasks", "jobs", "shots"] + (["device time"] if timed else []) + ["price"]
    rows = []
    for label, c in (("planned", e.planned), ("naive", e.naive)):
        row = [label, c.circuits, c.executions, c.tasks, c.jobs, c.shots]
        if timed:
            row.append(f"{c.seconds:,.0f} s")
        rows.append(row + [f"{c.price:,.2f} {e.currency}"])
    saving = f"the planner saves {e.saving:,.2f} {e.currency}"
    saving += f" (prices read {e.prices_read} from {e.source})" if e.prices_read else " (no prices: free)"
    if getattr(e, "expected", False):
        saving += (". Shots and price are expected figures: top-ups at the worst-case shot variance, "
                   "so a run spends at most this many shots")
    text = f"<details><summary>as text</summary><pre>{html.escape(str(e))}</pre></details>"
    return _CARD.format(head + _table(header, rows) + html.escape(saving) + text)
