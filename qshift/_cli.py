"""The ``qshift`` command line.

``qshift run FILE.qasm --values ...`` evaluates a circuit; errors are one line
and a non-zero exit status (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ._circuit import Circuit
from ._errors import QShiftError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qshift", description="Parameter-shift derivatives of quantum circuits.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="evaluate a circuit at given symbol values")
    run.add_argument("file", help="an OpenQASM 3 file")
    run.add_argument("--values", type=float, nargs="+", required=True,
                     help="one value per symbol, in declaration order (a single value is used for every symbol)")
    return parser


def _values(circuit: Circuit, given: list[float]) -> np.ndarray:
    if len(given) == 1:
        return np.full(circuit.n_symbols, given[0])
    return np.array(given)


def _run(args) -> None:
    from ._simulator import simulate

    circuit = Circuit.from_qasm(args.file)
    values = _values(circuit, args.values)
    result = simulate(circuit, values)
    print(f"{circuit!r}")
    print(circuit.draw() if circuit.n_qubits <= 6 and len(circuit.operations) <= 24 else "")
    print("symbols: " + ", ".join(f"{s}={v:g}" for s, v in zip(circuit.symbols, values)))
    for pauli, value in zip(circuit.outputs, result):
        print(f"  <{pauli}> = {value:+.10f}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"run": _run}[args.command](args)
    except QShiftError as exc:
        if args.debug:
            raise
        print("qshift: error: " + str(exc).replace("\n", " ").replace("  ", " "), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
