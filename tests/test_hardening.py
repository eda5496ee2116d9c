"""Hardening: bad or extreme input gets a qshift error up front — never a raw traceback, a hang, or a
silently different number.

Each case comes from a fuzz pass. Every refusal says what was expected, what was received and how
to fix it (:func:`helpful.assert_helpful`), and nothing here allocates a big state or runs long:
limits are checked before anything is computed from the offending number.

The limits (and where they live):

* qubits: ``qshift.ir.limits.MAX_QUBITS`` (10,000) for every circuit; a statevector device checks
  its own memory on top, comparing ``n`` with ``log2`` of the memory (never computing ``2**n``);
* shots: ``qshift.backends.profiles.MAX_SHOTS`` (10**9 per execution) for requests, estimates,
  profiles and the local simulator's ``default_shots``;
* orders: ``qshift.planning.planner.MAX_ORDER`` (62: NumPy's 64 dimensions minus the row and output
  axes; fewer with more batch dimensions) and ``MAX_TENSOR_ENTRIES`` (10**8 entries in one
  derivative tensor: rows x outputs x n_wrt**order);
* profile numbers (prices, times): finite and not negative; a profile file of at most 1 MiB.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

import qshift
from helpful import assert_helpful
from qshift.backends.profiles import Price, Timing, load_profile, profile_from_dict
from qshift.cli import main

SIN = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))


@pytest.fixture(autouse=True)
def _fast():
    """Every case here is a refusal or a tiny computation: none may take long."""
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < 15.0, "a hardening case took too long (a hang?)"


def _wide(n_qubits: int) -> qshift.Circuit:
    b = qshift.CircuitBuilder(n_qubits)
    x = b.input("x")
    return b.ry(x, 0).expectation("Z0").build()


# -- silently different numbers: huge angles ---------------------------------------------------------

@pytest.mark.parametrize("x", [1e16, -1e16, 3.0e15 + 0.5, 1e300, 2.0 ** 60])
def test_derivatives_at_huge_angles_keep_the_shift(x):
    d = qshift.derivatives(SIN, [x], order=2)
    # math.sin/cos reduce the double x exactly, as the simulator does for the unshifted circuit.
    assert d.value[0] == pytest.approx(math.sin(x), abs=1e-9)
    assert d.jacobian[0, 0] == pytest.approx(math.cos(x), abs=1e-9)
    assert d.hessian[0, 0, 0] == pytest.approx(-math.sin(x), abs=1e-9)


def test_huge_affine_angles_and_four_pi_periods_keep_the_shift():
    b = qshift.CircuitBuilder(2)
    x = b.input("x")
    c = b.h(0).cry(x, 0, 1).ry(2 * x + 0.5, 0).expectation("Z1").expectation("Z0").build()
    assert c.slot_periods.tolist() == [4 * math.pi, 2 * math.pi]
    X = 1e16
    d = qshift.derivatives(c, [X], order=1)
    # <Z1> = (1 + cos x) / 2 (control in |+>); qubit 0 keeps Bloch vector (cos(x/2), 0, 0), so after
    # RY(t), t = 2x + 0.5: <Z0> = -cos(x/2) sin(t), and d/dx = sin(x/2) sin(t) / 2 - 2 cos(x/2) cos(t).
    t = 2 * X + 0.5  # the slot angle as the circuit computes it (0.5 is below its last bit)
    assert d.value[0] == pytest.approx((1 + math.cos(X)) / 2, abs=1e-9)
    assert d.value[1] == pytest.approx(-math.cos(X / 2) * math.sin(t), abs=1e-9)
    assert d.jacobian[0, 0] == pytest.approx(-math.sin(X) / 2, abs=1e-9)
    expected = math.sin(X / 2) * math.sin(t) / 2 - 2 * math.cos(X / 2) * math.cos(t)
    assert d.jacobian[1, 0] == pytest.approx(expected, abs=1e-9)


def test_ordinary_angles_are_not_moved():
    p = qshift.plan(SIN, order=1)
    base = np.array([[0.5], [-3.0], [2 * math.pi]])
    assert np.array_equal(p.points(base), (base[:, None, :] + p.shifts[None]).reshape(-1, 1))


def test_points_of_huge_angles_are_the_exact_remainder():
    p = qshift.plan(SIN, order=1)
    x = 1e16
    reduced = p.points(np.array([[x]]))[0, 0]  # the unshifted point
    # the remainder modulo the true 2 pi, not modulo the float 2 pi (x mod fl(2 pi) is 0.7 rad off)
    assert abs(reduced) <= math.pi
    assert (math.sin(reduced), math.cos(reduced)) == pytest.approx((math.sin(x), math.cos(x)), abs=1e-12)


# -- cost guard ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("max_cost", [float("nan"), float("inf"), -1.0, "x", True, [5]])
def test_max_cost_must_be_a_finite_amount(max_cost):
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(SIN, [0.1], max_cost=max_cost)
    assert_helpful(err, "max_cost", repr(max_cost))


@pytest.mark.parametrize("field, value", [("per_shot", float("nan")), ("per_task", -0.3),
                                          ("per_minute", float("inf")), ("per_second", float("-inf"))])
def test_profile_prices_must_be_finite_and_not_negative(field, value):
    doc = {"name": "p", "description": "d", "backend": "local",
           "price": {"prices_read": "2026-01-01", "source": "s", field: value}}
    with pytest.raises(qshift.ProfileError) as err:
        profile_from_dict(doc)
    assert_helpful(err, f"price.{field}")
    with pytest.raises(qshift.ProfileError) as err:  # built in code, not read from a file
        Price(prices_read="2026-01-01", source="s", **{field: value})
    assert_helpful(err, field)


def test_profile_times_must_be_finite_and_not_negative(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "p"\ndescription = "d"\nbackend = "local"\n[time]\nper_shot_s = nan\n')
    with pytest.raises(qshift.ProfileError) as err:
        load_profile(path)
    assert_helpful(err, "time.per_shot_s", "nan")
    with pytest.raises(qshift.ProfileError):
        Timing(minimum_task_s=-1.0)


def test_a_nan_priced_profile_never_passes_a_budget(tmp_path):
    path = tmp_path / "nan.toml"
    path.write_text('name = "nan"\ndescription = "d"\nbackend = "local"\nshots = 100\n'
                    '[price]\nprices_read = "2026-01-01"\nsource = "s"\nper_shot = nan\n')
    with pytest.raises(qshift.ProfileError):
        qshift.derivatives(SIN, [0.1], device=str(path), max_cost=1.0)


@pytest.mark.parametrize("rows", [-5, 0, 1.5, True, "3"])
def test_rows_must_be_a_positive_whole_number(rows):
    with pytest.raises(qshift.RequestError) as err:
        qshift.estimate(SIN, device="ionq-forte", rows=rows)
    assert_helpful(err, "rows", repr(rows))
    with pytest.raises(qshift.RequestError):
        qshift.plan(SIN, rows=rows)


@pytest.mark.parametrize("orders", [(1.5,), "12", 5, 3.0, (True,), (-1,), (), (0, "1")])
def test_orders_must_be_a_sequence_of_whole_numbers(orders):
    for call in (lambda: qshift.derivatives(SIN, [0.1], orders=orders),
                 lambda: qshift.estimate(SIN, orders=orders), lambda: qshift.plan(SIN, orders=orders)):
        with pytest.raises(qshift.RequestError) as err:
            call()
        assert_helpful(err, "orders")


def test_orders_as_int_suggests_the_sequence_or_order():
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(SIN, [0.1], orders=5)
    assert_helpful(err, "orders=(5,)", "order=5")


def test_orders_of_numpy_integers_are_fine():
    d = qshift.derivatives(SIN, [0.1], orders=np.array([0, 2]))
    assert d.hessian[0, 0, 0] == pytest.approx(-math.sin(0.1))


# -- hangs: sizes refused up front --------------------------------------------------------------------

def test_builder_and_circuit_refuse_too_many_qubits():
    with pytest.raises(qshift.CircuitError) as err:
        qshift.CircuitBuilder(10 ** 12)
    assert_helpful(err, "10000", "1000000000000")
    with pytest.raises(qshift.CircuitError) as err:
        qshift.Circuit(10 ** 12, (), (qshift.PauliString.parse("Z0"),), ())
    assert_helpful(err, "10000")
    with pytest.raises(qshift.CircuitError):
        qshift.CircuitBuilder(2.0)


@pytest.mark.parametrize("n", [64, 2000, 10_000])
def test_statevector_memory_is_checked_without_computing_two_to_the_n(n):
    with pytest.raises(qshift.SimulationMemoryError) as err:
        qshift.LocalSimulator().rows_per_chunk(n)
    assert_helpful(err, f"{n}-qubit")


def test_a_2000_qubit_circuit_is_a_memory_error_not_a_device_failure():
    c = _wide(2000)
    with pytest.raises(qshift.SimulationMemoryError) as err:
        qshift.simulate(c, [0.1])
    assert_helpful(err, "2000-qubit")
    with pytest.raises(qshift.SimulationMemoryError):
        qshift.derivatives(c, [0.1])


@pytest.mark.parametrize("order", [63, 5000, 99999, 10 ** 12])
def test_orders_beyond_numpy_dimensions_are_refused_at_once(order):
    with pytest.raises(qshift.RequestError) as err:
        qshift.plan(SIN, order=order)
    assert_helpful(err, "62", str(order))
    with pytest.raises(qshift.RequestError):
        qshift.derivatives(SIN, [0.1], order=order)
    with pytest.raises(qshift.RequestError):
        qshift.derivatives(SIN, [0.1], orders=(order,))


def test_the_order_limit_counts_batch_dimensions():
    values = np.full((2, 2, 1), 0.1)
    assert qshift.derivatives(SIN, [0.1], orders=(62,)).derivative(62).ndim == 63
    assert qshift.derivatives(SIN, values, orders=(61,)).derivative(61).ndim == 64
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(SIN, values, orders=(62,))
    assert_helpful(err, "61", "batch")


def test_a_derivative_tensor_too_large_is_refused_with_its_size():
    c = qshift.hardware_efficient(8, 2)  # 32 symbols: 32**6 > 10**8 entries
    with pytest.raises(qshift.RequestError) as err:
        qshift.plan(c, order=6)
    assert_helpful(err, f"{32 ** 6:,}", "100,000,000", "wrt=")
    rows = np.zeros((10 ** 5, 32))  # 10**5 rows x outputs x 32**2 entries in the Hessian
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(c, rows, order=2)
    assert_helpful(err, "rows", "100,000,000")
    assert qshift.estimate(c, order=2, rows=10 ** 5).planned.circuits == 2081 * 10 ** 5  # pricing is fine
    assert qshift.plan(c, order=6, wrt=list(c.symbols[:2])).circuits > 0


def test_cli_refuses_huge_orders_and_shots(capsys):
    for args in (["--order", "99999"], ["--shots", str(10 ** 19)], ["--max-cost", "nan"]):
        assert main(["run", "sin", "--values", "0.1", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("qshift: error:") and "expected:" in err and "fix:" in err, err
        assert "Traceback" not in err


# -- raw exceptions become qshift errors ---------------------------------------------------------------

@pytest.mark.parametrize("seed", [-1, "abc", np.random.default_rng(1), 1.5, True])
@pytest.mark.parametrize("shots", [None, 10])
def test_seeds_must_be_non_negative_integers(seed, shots):
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(SIN, [0.1], shots=shots, seed=seed)
    assert_helpful(err, "seed")


def test_a_numpy_integer_seed_is_fine():
    a = qshift.derivatives(SIN, [0.1], shots=10, seed=np.int64(3))
    b = qshift.derivatives(SIN, [0.1], shots=10, seed=3)
    assert np.array_equal(a.jacobian, b.jacobian)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x80" * 50, ("a = " + "[" * 100_000).encode(),
                                     b"x = 1\n" + b"#" * (2 * 2 ** 20)])
def test_unreadable_profiles_are_profile_errors(tmp_path, content):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(qshift.ProfileError) as err:
        load_profile(path)
    assert_helpful(err, "bad.toml")


def test_a_profile_path_that_is_a_folder_or_has_nul_is_a_profile_error(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    for path in (tmp_path / "dir.toml", str(tmp_path / "a\0b.toml")):
        with pytest.raises(qshift.ProfileError) as err:
            load_profile(path)
        assert_helpful(err)


def _store_with_flipped_schema_byte(tmp_path):
    path = tmp_path / "s.sqlite"
    qshift.EvaluationStore(path).close()  # the last connection closed: the schema is in the file itself
    data = bytearray(path.read_bytes())
    at = data.find(b"CREATE TABLE requests")
    assert at > 0
    data[at + len("CREATE TABLE ")] ^= 0x80  # 'r' -> 0xf2: the schema is no longer UTF-8
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(bytes(data))
    return damaged


def test_a_store_whose_schema_is_not_utf8_is_damaged(tmp_path):
    path = _store_with_flipped_schema_byte(tmp_path)
    with pytest.raises(qshift.StoreError) as err:
        qshift.EvaluationStore(path)
    assert_helpful(err, "damaged", "move it aside", str(path))
    with pytest.raises(qshift.StoreError):
        qshift.derivatives(SIN, [0.5], shots=10, seed=1, store=path)


@pytest.mark.parametrize("make", [qshift.EvaluationStore,
                                  lambda p: qshift.derivatives(SIN, [0.5], shots=10, store=p)])
def test_a_store_path_with_nul_is_a_store_error(tmp_path, make):
    with pytest.raises(qshift.StoreError) as err:
        make(str(tmp_path / "a\0b.sqlite"))
    assert_helpful(err, "NUL")


@pytest.mark.parametrize("pilot_shots", [0, -3, 2.5, True, 10 ** 19])
def test_pilot_shots_are_checked_even_without_a_target(pilot_shots):
    with pytest.raises(qshift.RequestError) as err:
        qshift.derivatives(SIN, [0.1], shots=10, allocation="optimal", pilot_shots=pilot_shots)
    assert_helpful(err, "pilot_shots")
    with pytest.raises(qshift.RequestError):
        qshift.estimate(SIN, shots=10, pilot_shots=pilot_shots)


# -- unclear messages become clear ones ----------------------------------------------------------------

@pytest.mark.parametrize("shots", [10 ** 19, 10 ** 9 + 1])
def test_shots_have_a_stated_limit(shots):
    for call in (lambda: qshift.derivatives(SIN, [0.1], shots=shots),
                 lambda: qshift.estimate(SIN, shots=shots)):
        with pytest.raises(qshift.RequestError) as err:
            call()
        assert_helpful(err, "1,000,000,000", str(shots))
    with pytest.raises(qshift.DeviceError) as err:
        qshift.LocalSimulator(default_shots=shots)
    assert_helpful(err, "1,000,000,000")
    with pytest.raises(qshift.ProfileError) as err:
        profile_from_dict({"name": "p", "description": "d", "backend": "local", "shots": shots})
    assert_helpful(err, "1,000,000,000")


def test_the_shot_limit_itself_is_accepted():
    d = qshift.derivatives(SIN, [0.1], shots=10 ** 9, seed=1)
    assert d.jacobian[0, 0] == pytest.approx(math.cos(0.1), abs=1e-3)


def test_braket_local_refuses_a_statevector_too_large_up_front():
    pytest.importorskip("braket.devices")
    c = _wide(40)
    with pytest.raises(qshift.SimulationMemoryError) as err:
        qshift.derivatives(c, [0.1], device="braket-local")
    assert_helpful(err, "40-qubit", "16 TiB")
    with pytest.raises(qshift.SimulationMemoryError) as err:
        qshift.derivatives(_wide(20), [0.1], device="braket-dm")  # a 20-qubit density matrix: 16 TiB too
    assert_helpful(err, "20-qubit", "density matrix")


def test_a_circuit_wider_than_the_profile_is_refused_before_it_runs(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text('name = "small"\ndescription = "d"\nbackend = "local"\nmax_qubits = 2\n')
    with pytest.raises(qshift.DeviceError) as err:
        qshift.derivatives(_wide(3), [0.1], device=str(path))
    assert_helpful(err, "3 qubits", "max_qubits")


def _columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_cli_rule_table_keeps_its_columns_apart_at_large_sizes(capsys):
    args = ["plan", "hea-8q-2l", "--order", "2", "--rows", "100000", "--device", "ionq-forte",
            "--target-stderr", "0.001"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("rule"))
    table = lines[header:header + 4]
    assert all(len(_columns(line)) == 5 for line in table), "\n".join(table)
    assert len({len(line) for line in table}) == 1  # aligned


def test_estimate_table_keeps_its_columns_apart_at_large_sizes():
    e = qshift.estimate(qshift.hardware_efficient(8, 2), order=2, device="ionq-forte", rows=10 ** 9,
                        shots=10 ** 9)
    lines = str(e).splitlines()[1:4]
    assert [len(_columns(line)) for line in lines] == [6, 7, 7], "\n".join(lines)
    assert len({len(line) for line in lines}) == 1
