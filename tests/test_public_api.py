"""The public surface: __all__ is sorted and complete, and the names the design promises exist."""

import numpy as np

import qshift


def test_all_is_sorted_and_every_name_exists():
    assert list(qshift.__all__) == sorted(qshift.__all__)
    for name in qshift.__all__:
        assert hasattr(qshift, name), name


def test_every_public_error_derives_from_qshift_error():
    for name in qshift.__all__:
        obj = getattr(qshift, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, qshift.QShiftError), name


def test_design_surface():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    assert c.symbols == ("coupling", "field")
    d = qshift.derivatives(c, [0.1, 0.2], order=2, device="local", shots=None, seed=None, rule="standard")
    assert d.value.shape == (3,) and d.jacobian.shape == (3, 2) and d.hessian.shape == (3, 2, 2)
    assert d.derivative(2).shape == (3, 2, 2)
    assert (d.stats.circuits, d.stats.jobs, d.stats.executions) == (79, 1, 79)


def test_design_surface_of_minimize():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    r = qshift.minimize(c, [0.5], method="newton", device="local", shots=None, maxiter=20, tol=1e-6)
    assert isinstance(r, qshift.MinimizeResult) and r.success
    assert (r.x.shape, len(r.history), r.stats.circuits) == ((1,), r.nit + 1, int(r.history.circuits.sum()))


def test_design_surface_of_the_tensorflow_front_ends():
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    d = qshift.derivatives(c, [0.1, 0.2], order=0)
    f = qshift.tf.function(c, device="local", shift=None)
    assert np.allclose(f(np.array([0.1, 0.2])).numpy(), d.value)
    assert (f.stats.circuits, f.stats.jobs) == (1, 1)
    layer = qshift.keras.QuantumLayer(c, inputs=["coupling"], weights=["field"])
    assert layer is not None
