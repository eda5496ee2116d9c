"""Text, SVG and HTML views: drawings stay readable, SVG is well-formed, HTML shows the counts and escapes names."""

import html
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import qshift
from qshift._display import circuit_svg, draw_text

SVG = "{http://www.w3.org/2000/svg}"


def odd_names() -> qshift.Circuit:
    b = qshift.CircuitBuilder(3, name="<b>x & y</b>")
    t = b.input("theta")
    return (b.h(0).ry(t, 2).ccx(0, 2, 1).cswap(1, 0, 2).swap(0, 2).cz(0, 1).rzz(t, 0, 2).crx(2 * t + 1, 2, 0)
            .expectation("Z0 X2").build())


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def test_text_drawing_packs_columns_and_marks_controls():
    lines = draw_text(odd_names()).splitlines()
    assert len(lines) == 4 and lines[-1] == "outputs: ⟨Z0 X2⟩"
    assert lines[0].startswith("q0: ─") and "H" in lines[0] and "RX(2*theta + 1)" in lines[0]
    assert lines[2].startswith("q2: ─RY(theta)─")  # H and RY share the first column
    assert lines[1].count("●") == 2 and "⊕" in lines[1] and lines[0].count("×") == 2
    assert len({len(line) for line in lines[:3]}) == 1  # wires line up
    assert "│" in lines[1]  # RZZ on q0, q2 crosses q1


def test_text_drawing_folds_at_max_width():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("qaoa-maxcut-6"))
    folded = c.draw(max_width=60)
    lines = folded.splitlines()
    assert all(len(line) <= 60 for line in lines if line.startswith("q"))
    assert "»" in folded and "«" in folded
    one_block = c.draw()
    assert sum(line.startswith("q0:") for line in one_block.splitlines()) == 1
    assert folded.count("RZZ(2*gamma1)") == one_block.count("RZZ(2*gamma1)")


def test_angles_are_short():
    b = qshift.CircuitBuilder(1)
    c = b.p(np.pi / 6, 0).rz(0.123456789 * b.input("a") - np.pi / 2, 0).expectation("Z0").build()
    assert "P(pi/6)" in c.draw() and "RZ(0.1235*a - pi/2)" in c.draw()


@pytest.mark.parametrize("name", sorted(qshift.library()))
def test_svg_is_well_formed_for_every_library_circuit(name):
    c = qshift.Circuit.from_qasm(qshift.circuit_path(name))
    root = ET.fromstring(circuit_svg(c))
    assert root.tag == SVG + "svg" and float(root.get("width")) > 0
    wires = [e for e in root.iter(SVG + "line") if e.get("y1") == e.get("y2")]
    assert len(wires) >= c.n_qubits
    boxes = [e for e in root.iter(SVG + "rect")]
    assert len(boxes) >= sum(op.angle is not None for op in c.operations if op.gate not in ("cx", "ccx"))


def test_svg_and_html_escape_names():
    c = odd_names()
    svg = c._repr_svg_()
    root = ET.fromstring(svg)  # well-formed despite "<", "&" in the name
    assert root.find(SVG + "title").text == "<b>x & y</b>"
    card = c._repr_html_()
    assert "<b>x & y</b>" not in card and "&lt;b&gt;x &amp; y&lt;/b&gt;" in card
    assert "3 qubits" in card and "8 gates" in card and "theta" in card and "⟨Z0 X2⟩" in card
    ET.fromstring(card.split('overflow-x:auto">', 1)[1].split("</div>", 1)[0])  # the embedded SVG


def test_derivatives_html_shows_counts_shapes_and_errors():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("vqe-h2"))
    d = qshift.derivatives(c, [0.1, 0.2, 0.3], order=2, shots=500, seed=3)
    text = text_of(d._repr_html_())
    assert "vqe-h2" in text and "(14, 3, 3)" in text and "2 (Hessian)" in text
    assert f"{d.stats.circuits:,}" in text and f"{d.stats.shots:,}" in text and f"{d.stats.executions:,}" in text
    assert "max std. error" in text and f"{np.max(d.standard_error(2)):.4g}" in text
    assert f"naive nesting would run {d.plan.naive_circuits:,}" in text
    exact = text_of(qshift.derivatives(c, [0.1, 0.2, 0.3], order=1)._repr_html_())
    assert "std. error" not in exact


def test_plan_html_compares_planned_per_entry_and_naive():
    p = qshift.plan(qshift.hardware_efficient(10, 2), order=2)
    text = text_of(p._repr_html_())
    assert "3,241" in text and "6,481" in text and f"{p.unmerged_circuits:,}" in text
    assert f"{6481 / 3241:.2f}×" in text and "40 symbols" in text and "(40 in all)" in text
    named = qshift.plan(odd_names(), order=1)._repr_html_()
    assert "&lt;b&gt;x &amp; y&lt;/b&gt;" in named and "<b>x & y</b>" not in named


def test_plan_html_shows_notes_of_the_min_circuits_rule():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("controlled-rotations"))
    p = qshift.plan(c, order=2, rule="min-circuits")
    text = text_of(p._repr_html_())
    assert "min-circuits" in text and all(note in text for note in p.notes)


def test_estimate_html_is_a_table_of_planned_and_naive_costs():
    e = qshift.estimate(qshift.hardware_efficient(8, 2), order=2, device="ionq-forte")
    text = text_of(e._repr_html_())
    assert "ionq-forte" in text and "2,081" in text and "4,161" in text and "2,081,000" in text
    assert "166,486.30 USD" in text and "332,892.60 USD" in text and f"saves {e.saving:,.2f} USD" in text
    assert "<table" in e._repr_html_() and "device time" not in text
    timed = qshift.estimate(qshift.hardware_efficient(2, 1), order=1, device="ibm-brisbane")  # billed by time
    assert f"{timed.planned.seconds:,.0f} s" in text_of(timed._repr_html_())


def test_estimate_html_says_when_shots_are_an_expected_figure():
    c = qshift.hardware_efficient(2, 1)
    target = text_of(qshift.estimate(c, order=1, device="ionq-forte", target_stderr=0.05)._repr_html_())
    assert "expected shots: a pilot of 100" in target and "Shots and price are expected figures" in target
    optimal = text_of(qshift.estimate(c, order=1, device="ionq-forte", allocation="optimal")._repr_html_())
    assert "optimal allocation" in optimal and "expected" not in optimal


def test_derivatives_html_counts_points_read_from_a_store(tmp_path):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    qshift.derivatives(c, [0.5], order=1, store=tmp_path / "run.sqlite")
    again = qshift.derivatives(c, [0.5], order=1, store=tmp_path / "run.sqlite")
    text = text_of(again._repr_html_())
    assert "from store" in text and "re-attached" not in text
    assert "from store" not in text_of(qshift.derivatives(c, [0.5], order=1)._repr_html_())
