"""``qshift.keras.QuantumLayer``: a circuit as a Keras 3 layer with trainable circuit weights.

The layer splits the circuit's symbols in two: *inputs*, fed column by column
from the layer's input features, and *weights*, owned by the layer as one
trainable variable. ``call`` assembles both into the circuit's symbol order and
runs :func:`qshift.tf.function`, so the gradient that ``model.fit`` needs (with
respect to the weights and to the features, which may come from classical
layers before it) is the parameter-shift gradient, and nested tapes give higher
orders exactly as in :mod:`qshift.tf`.

Training on a simulator: ``method="adjoint"`` (exact simulators such as
``device="local"``) makes each backward pass one adjoint vector-Jacobian
product per example, whatever the number of symbols, instead of ``2n + 1``
circuits; derivatives are the same to rounding. Keep the default (the shift
rule) to count or price what a QPU will run.

Features straight from the dataset: with ``input_gradients=False`` the layer
differentiates only its weights (``qshift.tf.function(..., wrt=weights)``).
The gradient with respect to the input features is then zero, as if they
passed through ``tf.stop_gradient``, and a gradient runs ``2 * len(weights) + 1``
circuits per example instead of ``2 * n_symbols + 1`` (a Hessian
``2 w^2 + w + 1`` instead of ``2 n^2 + n + 1``). Use it only when nothing
trainable comes before the layer: a ``Dense`` layer feeding it would get no
gradient through the circuit and would never learn.

Saving: ``get_config`` carries the circuit as OpenQASM 3 text
(``circuit.to_qasm()``), the symbol split, ``input_gradients``, ``method``, the initializer and the device name;
the class is registered with Keras, so a ``.keras`` file containing the layer
loads back with ``keras.models.load_model`` once ``qshift.keras`` is imported.
The circuit values run in ``tf.numpy_function``, which XLA cannot compile: the
layer sets ``supports_jit = False`` so that Keras keeps ``jit_compile`` off.

Example:
    >>> import numpy as np, keras, qshift
    >>> b = qshift.CircuitBuilder(1)
    >>> layer = qshift.keras.QuantumLayer(
    ...     b.ry(b.input("x"), 0).rz(b.input("w"), 0).expectation("X0").build(), inputs=["x"], weights=["w"])
    >>> layer(np.zeros((3, 1), dtype="float32")).shape
    TensorShape([3, 1])
    >>> [tuple(v.shape) for v in layer.trainable_weights]
    [(1,)]
"""

from __future__ import annotations

import math

from qshift._errors import QShiftError, RequestError, require

require("tensorflow", "tf")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from qshift import tf as qtf  # noqa: E402
from qshift.ir.circuit import Circuit  # noqa: E402
from qshift.execution.executor import Stats  # noqa: E402

__all__ = ["QuantumLayer"]


@keras.saving.register_keras_serializable(package="qshift")
class QuantumLayer(keras.layers.Layer):
    """A circuit as a Keras layer: features -> the ``inputs`` symbols, trainable ``weights`` -> the rest.

    Args:
        circuit: a :class:`~qshift.Circuit`, OpenQASM 3 text or a ``.qasm`` path.
        inputs: symbol names fed by the input features, in feature order (input shape ``(..., len(inputs))``).
        weights: symbol names the layer trains (default: every symbol not in ``inputs``).
        initializer: Keras initializer of the weights (default uniform in ``[-pi, pi)``).
        device, shots, shift, seed, method, mitigation: as for :func:`qshift.tf.function`
            (``method="adjoint"``: the adjoint method on an exact simulator, the fastest way to train
            there; ``mitigation=("readout", "zne")``: mitigated derivatives on a noisy device).
        input_gradients: ``False`` differentiates the weights only: the input features get a zero
            gradient and cost no circuits (for data fed straight from the dataset; see the module notes).
        **kwargs: Keras layer arguments (``name``, ``dtype``, ``trainable``).

    Output: ``(..., circuit.n_outputs)``, one column per circuit output.

    Example:
        >>> import keras, qshift
        >>> layer = qshift.keras.QuantumLayer(qshift.hardware_efficient(2, 1), inputs=["y0_0", "y0_1"])
        >>> layer.weight_symbols
        ('z0_0', 'z0_1')
        >>> model = keras.Sequential([keras.Input((2,)), layer, keras.layers.Dense(1)])
        >>> model.output_shape
        (None, 1)

        Data straight from the dataset: only the weights are differentiated.

        >>> layer = qshift.keras.QuantumLayer(qshift.hardware_efficient(2, 1), inputs=["y0_0", "y0_1"],
        ...                                   input_gradients=False)
        >>> layer.function.wrt
        ('z0_0', 'z0_1')
    """

    def __init__(self, circuit, inputs, weights=None, *, initializer=None, device="local", shots=None,
                 shift=None, seed=None, input_gradients=True, method="shift", mitigation=None, **kwargs):
        _require_tensorflow_backend()
        super().__init__(**kwargs)
        self.circuit = qtf._as_circuit(circuit)
        self.input_symbols, self.weight_symbols = _split_symbols(self.circuit, inputs, weights)
        self.initializer = keras.initializers.get(initializer or keras.initializers.RandomUniform(-math.pi, math.pi))
        self.device, self.shots, self.shift, self.seed = device, shots, shift, seed
        self.input_gradients = _flag(input_gradients, "input_gradients")
        wrt = None if self.input_gradients else _used(self.circuit, self.weight_symbols)
        self.method, self.mitigation = method, mitigation
        self.function = qtf.function(self.circuit, device=device, shots=shots, shift=shift, seed=seed, wrt=wrt,
                                     method=method, mitigation=mitigation)
        given = self.input_symbols + self.weight_symbols
        self._symbol_order = tuple(given.index(s) for s in self.circuit.symbols)
        self.supports_jit = False

    @property
    def stats(self) -> Stats:
        """Cumulative counters of the circuits this layer executed."""
        return self.function.stats

    def build(self, input_shape):
        features = input_shape[-1]
        if features is not None and features != len(self.input_symbols):
            raise QShiftError(
                f"layer {self.name!r} got {features} input features for {len(self.input_symbols)} input symbols",
                expected=f"input shape (..., {len(self.input_symbols)}), one feature per symbol "
                         f"{list(self.input_symbols)}",
                received=f"input shape {tuple(input_shape)}",
                fix="match the features to `inputs`, e.g. with a Dense layer before this one")
        self.circuit_weights = self.add_weight(name="circuit_weights", shape=(len(self.weight_symbols),),
                                               initializer=self.initializer, trainable=True)

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        w = tf.cast(tf.convert_to_tensor(self.circuit_weights), x.dtype)
        w = tf.broadcast_to(w, tf.concat([tf.shape(x)[:-1], tf.shape(w)], axis=0))
        values = tf.gather(tf.concat([x, w], axis=-1), self._symbol_order, axis=-1)
        return self.function(values)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.circuit.n_outputs,)

    def get_config(self) -> dict:
        if not isinstance(self.device, str):
            raise QShiftError("a layer on a backend object cannot be saved", expected="device given by name",
                              received=type(self.device).__name__,
                              fix="create the layer with device='<name>' (see qshift.available_devices())")
        return {**super().get_config(), "circuit": self.circuit.to_qasm(), "inputs": list(self.input_symbols),
                "weights": list(self.weight_symbols), "initializer": keras.initializers.serialize(self.initializer),
                "device": self.device, "shots": self.shots, "shift": self.shift, "seed": self.seed,
                "input_gradients": self.input_gradients, "method": self.method,
                "mitigation": _plain(self.mitigation)}

    @classmethod
    def from_config(cls, config: dict) -> "QuantumLayer":
        config = dict(config)
        config["circuit"] = Circuit.from_qasm(config["circuit"])
        return cls(**config)


def _plain(mitigation):
    """``mitigation`` as JSON-friendly config (a name, a list of names, or a dict of options), or an error."""
    if mitigation is None or isinstance(mitigation, str):
        return mitigation
    if isinstance(mitigation, (tuple, list)) and all(isinstance(m, str) for m in mitigation):
        return list(mitigation)
    if isinstance(mitigation, dict):
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in mitigation.items()}
    raise QShiftError("a layer whose mitigation is an object cannot be saved", expected="mitigation given as a "
                      "name, a list of names or a dict of options", received=type(mitigation).__name__,
                      fix="create the layer with e.g. mitigation=('readout', 'zne') or {'zne': {...}}")


def _split_symbols(circuit: Circuit, inputs, weights) -> tuple[tuple[str, ...], tuple[str, ...]]:
    inputs = _names(inputs, "inputs")
    if weights is None:
        weights = tuple(s for s in circuit.symbols if s not in inputs)
    weights = _names(weights, "weights")
    given = inputs + weights
    unknown = [s for s in given if s not in circuit.symbols]
    twice = sorted({s for s in given if given.count(s) > 1})
    missing = [s for s in circuit.symbols if s not in given]
    if unknown or twice or missing:
        raise QShiftError(
            "inputs and weights must name every circuit symbol exactly once",
            expected=f"a split of {list(circuit.symbols)}",
            received=f"inputs={list(inputs)}, weights={list(weights)} "
                     f"(unknown: {unknown}, named twice: {twice}, missing: {missing})",
            fix="list each symbol of circuit.symbols in exactly one of inputs= and weights=")
    return inputs, weights


def _names(names, what: str) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(s, str) for s in names):
        raise QShiftError(f"{what} must be a list of symbol names", expected="e.g. ['x0', 'x1']",
                          received=repr(names), fix=f"pass {what}=[...] with names from circuit.symbols")
    return tuple(names)


def _used(circuit: Circuit, names: tuple[str, ...]) -> tuple[str, ...]:
    """The ``names`` that feed some gate (a symbol that feeds none has a zero derivative for free)."""
    used = {circuit.symbols[i] for i in circuit.slot_symbol}
    return tuple(s for s in names if s in used)


def _flag(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise RequestError(f"{what} must be True or False", expected="a bool", received=repr(value),
                           fix=f"pass {what}=False to differentiate the weights only, True (default) for all")
    return value


def _require_tensorflow_backend() -> None:
    if keras.backend.backend() != "tensorflow":
        raise QShiftError("qshift.keras needs the TensorFlow backend of Keras 3",
                          expected="keras.backend.backend() == 'tensorflow'",
                          received=repr(keras.backend.backend()),
                          fix="set KERAS_BACKEND=tensorflow before importing keras")
