"""Device profiles: the bundled ones, user files, and clear errors for bad profiles."""

import datetime
import tomllib
from pathlib import Path

import numpy as np
import pytest

import qshift
from qshift.backends.registry import FACTORIES, available_devices, load_profile, resolve_device
from qshift.backends.profiles import bundled_profiles
from qshift._errors import ProfileError

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ["local", "aer", "aer-noisy", "default.qubit", "lightning.qubit", "braket-local", "braket-dm",
            "ibm-fake-brisbane", "ionq-forte", "iqm-garnet", "rigetti-ankaa-3", "braket-sv1", "braket-dm1",
            "ibm-brisbane"]
CLOUD = ["ionq-forte", "iqm-garnet", "rigetti-ankaa-3", "braket-sv1", "braket-dm1", "ibm-brisbane"]


def test_every_required_profile_is_bundled_and_reads():
    assert set(REQUIRED) <= set(available_devices())
    for name in available_devices():
        profile = load_profile(name)
        assert profile.name == name == bundled_profiles()[name].stem


def test_cloud_profiles_carry_dated_prices():
    for name in CLOUD:
        profile = load_profile(name)
        assert profile.cloud and profile.price is not None
        assert datetime.date.fromisoformat(profile.price.prices_read)
        assert profile.price.source.startswith("https://")
    per_shot = {n: load_profile(n).price.per_shot for n in ("ionq-forte", "iqm-garnet", "rigetti-ankaa-3")}
    assert per_shot == {"ionq-forte": 0.08, "iqm-garnet": 0.00145, "rigetti-ankaa-3": 0.0009}
    assert all(load_profile(n).price.per_task == 0.30 for n in per_shot)
    assert load_profile("braket-sv1").price.per_minute == load_profile("braket-dm1").price.per_minute == 0.075
    assert load_profile("ibm-brisbane").price.per_second == 1.60


def test_profiles_ship_in_the_wheel():
    with open(ROOT / "pyproject.toml", "rb") as f:
        force = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force["devices"] == "qshift/devices"


@pytest.mark.parametrize("name, kind", [
    ("local", "LocalSimulator"), ("aer", "AerBackend"), ("aer-noisy", "AerBackend"),
    ("default.qubit", "PennyLaneBackend"), ("lightning.qubit", "PennyLaneBackend"),
    ("braket-local", "BraketBackend"), ("braket-dm", "BraketBackend"), ("ibm-fake-brisbane", "IBMBackend"),
])
def test_local_profiles_build_their_backend(name, kind):
    backend = resolve_device(name)
    assert type(backend).__name__ == kind
    assert backend.profile.name == name
    assert backend.name == name


def test_the_backend_kinds_a_profile_may_name_are_the_registry_s(tmp_path):
    path = tmp_path / "kind.toml"
    path.write_text('name = "x"\ndescription = "d"\nbackend = "quantum"\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.expected == "one of " + ", ".join(FACTORIES)


def test_profile_shots_become_the_default():
    backend = resolve_device("ibm-fake-brisbane")
    assert backend.default_shots == 4096 and not backend.exact


@pytest.mark.parametrize("name", CLOUD)
def test_cloud_profiles_cannot_run_here(name):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    with pytest.raises(qshift.DeviceError, match="credentials") as info:
        qshift.derivatives(c, [0.1], device=name)
    assert "qshift.estimate" in str(info.value)


def test_a_user_profile_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ndescription = "noisy aer"\nbackend = "aer"\n'
                    '[options]\nnoise = { depolarizing_2q = 0.02 }\n')
    c = qshift.Circuit.from_qasm(qshift.circuit_path("hea-4q-2l"))
    d = qshift.derivatives(c, np.zeros(c.n_symbols), order=1, device=str(path))
    assert d.stats.jobs == 1
    assert not np.allclose(d.value, qshift.simulate(c, np.zeros(c.n_symbols)))  # the noise is applied
    assert resolve_device(path).profile.path == path


BASE = 'name = "x"\ndescription = "d"\nbackend = "aer"\n'


@pytest.mark.parametrize("text, field, expected", [
    (BASE + "shotz = 10\n", "shotz", "unknown key"),
    ('name = "x"\nbackend = "aer"\n', "description", "missing field"),
    (BASE.replace('"aer"', '"qiskit"'), "backend", "unknown value"),
    (BASE + 'shots = "many"\n', "shots", "wrong type"),
    (BASE + "shots = 0\n", "shots", "positive"),
    (BASE + "cloud = 1\n", "cloud", "wrong type"),
    (BASE + '[price]\nper_shot = 0.1\nsource = "s"\n', "price.prices_read", "missing field"),
    (BASE + '[price]\nper_shot = "cheap"\nprices_read = "2026-01-01"\nsource = "s"\n', "price.per_shot", "wrong type"),
    (BASE + '[price]\nprices_read = "soon"\nsource = "s"\n', "price.prices_read", "not a date"),
    (BASE + '[time]\nper_hour = 1\n', "time.per_hour", "unknown key"),
    (BASE + 'task = "batch"\n', "task", "unknown value"),
])
def test_bad_profiles_name_the_field(tmp_path, text, field, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert field in str(info.value) and expected in str(info.value)
    assert "fix:" in str(info.value)


def test_options_that_do_not_fit_the_backend(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BASE + "[options]\nmethd = \"statevector\"\n")
    with pytest.raises(ProfileError, match="methd"):
        resolve_device(path)


def test_invalid_toml_and_missing_files(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(path)
    with pytest.raises(ProfileError, match="no device profile"):
        load_profile(tmp_path / "absent.toml")


def test_unknown_names_list_the_known_ones():
    with pytest.raises(qshift.DeviceError) as info:
        resolve_device("ionq-fortee")
    assert "ionq-forte" in str(info.value) and "available_devices" in str(info.value)


# -- a profile runs as it is priced -------------------------------------------------------------------

MINE = ('name = "mine"\ndescription = "the local simulator, sampled and priced"\nbackend = "local"\nshots = 1000\n'
        '[price]\nper_task = 0.30\nper_shot = 0.01\nprices_read = "2026-01-01"\nsource = "https://example.com"\n')


@pytest.fixture
def mine(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINE)
    return path


def test_a_local_profile_with_shots_runs_with_them(mine):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    x = [0.3, 0.2]
    backend = resolve_device(mine)
    assert (backend.name, backend.default_shots, backend.profile.name) == ("mine", 1000, "mine")
    e = qshift.estimate(c, order=2, device=mine)
    d = qshift.derivatives(c, x, order=2, device=mine, seed=4, store=False)
    assert d.stats.shots > 0 and d.stats.shots == 1000 * d.stats.executions
    assert (d.stats.circuits, d.stats.executions, d.stats.shots) == (
        e.planned.circuits, e.planned.executions, e.planned.shots)
    assert e.shots_per_execution == 1000 and e.planned.price == pytest.approx(0.30 + 0.01 * e.planned.shots)
    exact = qshift.derivatives(c, x, order=2)  # the same simulator without shots
    for k in range(3):
        err = d.standard_error(k)
        assert err.shape == exact.derivative(k).shape and np.all(err > 0)
        assert np.all(np.abs(d.derivative(k) - exact.derivative(k)) < 5 * err)
    assert qshift.derivatives(c, x, order=1, device=mine, shots=10, store=False, seed=1).stats.shots == \
        10 * qshift.estimate(c, order=1, device=mine, shots=10).planned.executions  # shots= still wins


def test_max_cost_refuses_a_profile_before_anything_runs(mine, monkeypatch):
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    calls = []
    run = qshift.LocalSimulator.run
    monkeypatch.setattr(qshift.LocalSimulator, "run", lambda self, *a, **k: calls.append(1) or run(self, *a, **k))
    price = qshift.estimate(c, order=2, device=mine).planned.price
    with pytest.raises(qshift.CostLimitError) as info:
        qshift.derivatives(c, [0.3, 0.2], order=2, device=mine, max_cost=price - 0.01, store=False)
    assert calls == []
    message = str(info.value)
    assert "'mine'" in message and "'local'" not in message and f"{price:,.2f} USD" in message
    d = qshift.derivatives(c, [0.3, 0.2], order=2, device=mine, max_cost=price, store=False, seed=2)
    assert len(calls) == 1 and d.stats.shots == qshift.estimate(c, order=2, device=mine).planned.shots


def test_local_simulator_memory_sizes():
    assert qshift.LocalSimulator(max_memory="6GiB").max_memory == 6 * 2 ** 30
    assert qshift.LocalSimulator(max_memory="512 MiB").max_memory == 512 * 2 ** 20
    assert qshift.LocalSimulator(max_memory="2GB").max_memory == 2 * 10 ** 9
    assert qshift.LocalSimulator(max_memory=1e6).max_memory == 10 ** 6
    for bad in ("6 gigs", "", "-1GiB", 0, None, True, "nanGB"):
        with pytest.raises(qshift.DeviceError) as info:
            qshift.LocalSimulator(max_memory=bad)
        assert "'6GiB'" in str(info.value)


def test_memory_sizes_from_a_profile(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text('name = "small"\ndescription = "d"\nbackend = "local"\n[options]\nmax_memory = "1MiB"\n')
    backend = resolve_device(path)
    assert backend.max_memory == 2 ** 20 and backend.rows_per_chunk(10) == 16
    with pytest.raises(qshift.SimulationMemoryError):
        backend.rows_per_chunk(16)


def test_max_cost_prices_the_strategy_that_runs(mine, monkeypatch):
    # a target error is priced as its pilot and top-ups (an expected figure), optimal allocation as
    # its shot levels: max_cost must see the same price estimate() shows for the same arguments
    c = qshift.Circuit.from_qasm(qshift.circuit_path("ising-2q"))
    calls = []
    run = qshift.LocalSimulator.run
    monkeypatch.setattr(qshift.LocalSimulator, "run", lambda self, *a, **k: calls.append(1) or run(self, *a, **k))
    uniform = qshift.estimate(c, order=2, device=mine).planned.price  # the profile's 1000 shots everywhere
    for kwargs in ({"target_stderr": 0.05}, {"allocation": "optimal"}, {"rule": "min-shots", "target_stderr": 0.05}):
        e = qshift.estimate(c, order=2, device=mine, **kwargs)
        if "target_stderr" in kwargs:  # dearer than uniform shots: a guard pricing uniform shots let it run
            assert e.planned.price > uniform
        with pytest.raises(qshift.CostLimitError):
            qshift.derivatives(c, [0.3, 0.2], order=2, device=mine, max_cost=e.planned.price - 0.01, store=False,
                               **kwargs)
    assert calls == []
