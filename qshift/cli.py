"""The ``qshift`` command line.

``qshift run FILE.qasm --values ... --order 2 --device NAME [--shots N] [--store FILE | --no-store]``
computes and prints value, gradient, Hessian and the counts (with an evaluation store, also how
many circuits came from it, were re-attached to running tasks, or were submitted). ``--values``
takes one value per symbol (a single value only for a one-symbol circuit);
``--values-file F`` takes several rows, from a CSV file (a header of symbol names, or none:
columns in declaration order) or a NumPy ``.npy`` array ``(rows, n_symbols)``, and prints one
block per row; ``--json`` prints the results as JSON instead (value, jacobian, hessian as lists,
standard errors when sampled, the counts, the circuit and the device).
``qshift plan FILE.qasm --order 2 --device NAME`` prints
circuits, jobs, shots and price for the planned and the naive way without running anything;
``qshift devices`` lists the device profiles; ``qshift store [--file F] [--prune-older-than DAYS]``
says what an evaluation store holds and deletes old results and ended tasks. ``FILE`` may also
be the name of a library circuit (``vqe-h2``). Errors go to stderr as qshift writes them (the
problem, then what was expected, what was received and the fix, one per line), with exit
status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qshift._display import text_table
from qshift._errors import QShiftError, ValuesError
from qshift.api.derivatives import derivatives
from qshift.backends.profiles import bundled_profiles
from qshift.backends.registry import load_profile, resolve_profile
from qshift.cost.estimate import estimate
from qshift.cost.families import cheapest, choices
from qshift.execution.store import EvaluationStore, default_store_path
from qshift.ir.circuit import Circuit
from qshift.ir.pauli import PauliSum

__all__ = ["main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an OpenQASM 3 file (or a library circuit name, e.g. hea-4q-2l)")
    parser.add_argument("--order", type=int, default=1, help="highest derivative order (default 1)")
    parser.add_argument("--device", default="local", help="device profile name or path to a .toml (default local)")
    parser.add_argument("--shots", type=int, default=None, help="shots per execution (default: the device's)")
    parser.add_argument("--rule", default="standard", help="shift-rule family: standard or min-circuits")
    parser.add_argument("--shift", type=float, default=None, help="shift parameter s in (0, pi), default pi/2")
    parser.add_argument("--mitigation", type=_mitigation, default=None, metavar="KINDS",
                        help="mitigate a noisy device's bias: readout, zne or readout,zne")


def _mitigation(text: str) -> tuple[str, ...]:
    """``--mitigation readout,zne`` as the tuple ``mitigation=`` takes (checked by the request)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qshift", description="Parameter-shift derivatives of quantum circuits.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compute value and derivatives at given symbol values")
    _common(run)
    given = run.add_mutually_exclusive_group()
    given.add_argument("--values", type=float, nargs="+",
                       help="one value per symbol, in declaration order (a single value only for a one-symbol circuit)")
    given.add_argument("--values-file", metavar="FILE",
                       help="several rows of values: a CSV file (a header of symbol names, or none: columns in "
                            "declaration order) or a .npy array (rows, n_symbols)")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.add_argument("--seed", type=int, default=None, help="seed for shot sampling")
    run.add_argument("--method", default="shift", choices=("shift", "adjoint"),
                     help="shift (default: the circuits a QPU runs) or adjoint (exact simulators only)")
    run.add_argument("--max-cost", type=float, default=None, help="refuse to run if the estimate exceeds this")
    run.add_argument("--store", default=None, metavar="FILE",
                     help="evaluation store to resume from and record to (default: the user cache file for "
                          "cloud and shot-based devices, none for exact simulators)")
    run.add_argument("--no-store", dest="store", action="store_const", const=False, help="use no evaluation store")
    plan = sub.add_parser("plan", help="print circuits, jobs, shots and price, planned vs naive; runs nothing")
    _common(plan)
    plan.add_argument("--rows", type=int, default=1, help="rows of symbol values the request carries")
    plan.add_argument("--target-stderr", type=float, default=None,
                      help="compare the rule families for this standard error on every entry")
    sub.add_parser("devices", help="list the bundled device profiles")
    store = sub.add_parser("store", help="what an evaluation store holds; prune what is old")
    store.add_argument("--file", default=None, help="the store (default: the user cache file, or QSHIFT_STORE)")
    store.add_argument("--prune-older-than", type=float, default=None, metavar="DAYS",
                       help="delete results and ended tasks older than this many days (running tasks are kept)")
    store.add_argument("--device", default=None, help="prune only this device's entries")
    store.add_argument("--vacuum", action="store_true", help="after pruning, give the space back to the disk")
    return parser


def _circuit(name: str) -> Circuit:
    """The circuit a command names: a file given on the command line (whatever its suffix), or a library name."""
    path = Path(name)
    return Circuit.from_qasm(path if path.is_file() else name)


def _values(circuit: Circuit, given: list[float] | None, path: str | None) -> np.ndarray:
    """The rows of values ``(rows, n_symbols)`` from ``--values`` or ``--values-file``."""
    if path is not None:
        return _values_file(circuit, Path(path))
    if given is None:
        if circuit.n_symbols == 0:
            return np.zeros((1, 0))
        raise ValuesError("no symbol values given", expected=f"--values with {circuit.n_symbols} value(s) for "
                          f"{list(circuit.symbols)}, or --values-file FILE", received="neither",
                          fix="pass --values " + " ".join(["0.1"] * circuit.n_symbols))
    if len(given) != circuit.n_symbols:
        one = " (a single value only for a one-symbol circuit)" if len(given) == 1 else ""
        raise ValuesError("wrong number of --values", expected=f"{circuit.n_symbols} value(s), one per symbol of "
                          f"{list(circuit.symbols)}", received=f"{len(given)} value(s){one}",
                          fix="pass one value per symbol in declaration order")
    return np.array([given], dtype=float)


def _values_file(circuit: Circuit, path: Path) -> np.ndarray:
    if not path.is_file():
        raise ValuesError(f"cannot read --values-file {str(path)!r}", expected="an existing .csv or .npy file",
                          received="no such file", fix="check the path")
    if path.suffix.lower() == ".npy":
        try:
            rows = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValuesError(f"cannot read {str(path)!r} as a NumPy array", expected="a .npy file of floats",
                              received=str(exc), fix="save it with numpy.save(path, array)") from None
        rows = rows.reshape(1, -1) if rows.ndim == 1 and circuit.n_symbols > 1 else rows
    else:
        rows = _csv_rows(circuit, path)
    rows = np.asarray(rows)
    if rows.ndim == 1 and circuit.n_symbols == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or rows.shape[1] != circuit.n_symbols or rows.shape[0] == 0:
        raise ValuesError(f"--values-file {path.name} has the wrong shape", expected=f"rows of {circuit.n_symbols} "
                          f"value(s), columns {list(circuit.symbols)}", received=f"shape {rows.shape}",
                          fix="one row per request, one column per symbol")
    return circuit.check_values(rows, name=f"--values-file {path.name}")[0]


def _csv_rows(circuit: Circuit, path: Path) -> np.ndarray:
    """Rows of a CSV file; a first line of names is a header, whose columns are put in symbol order."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        lines = [(reader.line_num, [cell.strip() for cell in row]) for row in reader if any(c.strip() for c in row)]
    order = list(range(circuit.n_symbols))
    if lines and not all(_is_number(cell) for cell in lines[0][1]):
        header, lines = lines[0][1], lines[1:]
        if sorted(header) != sorted(circuit.symbols):
            raise ValuesError(f"the header of {path.name} does not name the circuit's symbols",
                              expected=f"the columns {list(circuit.symbols)} (in any order)", received=str(header),
                              fix="name one column per symbol, or leave the header out (declaration order)")
        order = [header.index(name) for name in circuit.symbols]
    for number, row in lines:
        if len(row) != circuit.n_symbols or not all(_is_number(cell) for cell in row):
            raise ValuesError(f"{path.name} line {number} is not {circuit.n_symbols} number(s)",
                              expected=f"one comma-separated number per symbol {list(circuit.symbols)}",
                              received=",".join(row), fix="fix or remove that line")
    return np.array([[float(row[i]) for i in order] for _, row in lines], dtype=float).reshape(-1, circuit.n_symbols)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _print_tensor(label: str, tensor: np.ndarray, circuit: Circuit, stderr: np.ndarray | None) -> None:
    print(f"{label}:" + ("  (± one standard error from shot noise)" if stderr is not None else ""))
    for k, pauli in enumerate(circuit.outputs):
        head = f"  <{pauli.short(2) if isinstance(pauli, PauliSum) else pauli}>: "
        for name, block in (("", tensor[k]), ("± ", None if stderr is None else stderr[k])):
            if block is None:
                continue
            text = np.array2string(np.asarray(block), precision=6, suppress_small=True, max_line_width=100)
            pad = " " * len(head) if name else head
            print((pad[:-2] + name if name else pad) + text.replace("\n", "\n" + " " * len(head)))


_NAMES = {0: "value", 1: "gradient", 2: "Hessian"}
_KEYS = {0: "value", 1: "jacobian", 2: "hessian"}


def _run(args) -> None:
    circuit = _circuit(args.file)
    rows = _values(circuit, args.values, args.values_file)
    d = derivatives(circuit, rows, order=args.order, device=args.device, shots=args.shots, seed=args.seed,
                    shift=args.shift, rule=args.rule, store=args.store, max_cost=args.max_cost, method=args.method,
                    mitigation=args.mitigation)
    if args.json:
        print(json.dumps(_as_json(circuit, rows, d, args)))
        return
    print(repr(circuit))
    for i, row in enumerate(rows):
        if len(rows) > 1:
            print(f"\nrow {i + 1} of {len(rows)}")
        print("values: " + ", ".join(f"{s}={v:g}" for s, v in zip(circuit.symbols, row)))
        for k in range(args.order + 1):
            err = d.stderr[k][i] if d.stderr is not None else None
            _print_tensor(_NAMES.get(k, f"derivative {k}"), d.derivative(k)[i], circuit, err)
    s = d.stats
    print(("\n" if len(rows) > 1 else "") + f"ran {s.circuits} circuits in {s.jobs} job(s), {s.executions} "
          f"executions, {s.shots} shots (naive nesting: {d.plan.naive_circuits} circuits)")
    if d.method != "shift" or args.method != "shift":
        print(f"method {d.method}: {s.forward_sweeps} forward and {s.backward_sweeps} backward adjoint sweeps")
    if d.store is not None:
        print(f"store {d.store}: {s.from_store} circuits from the store, {s.reattached} re-attached, "
              f"{s.submitted} submitted")


def _as_json(circuit: Circuit, rows: np.ndarray, d, args) -> dict:
    """Everything ``qshift run`` prints, as plain JSON types (one entry per row in ``results``)."""
    profile = resolve_profile(args.device)
    results = []
    for i, row in enumerate(rows):
        entry = {"values": dict(zip(circuit.symbols, row.tolist()))}
        entry.update({_KEYS.get(k, f"derivative_{k}"): d.derivative(k)[i].tolist() for k in range(args.order + 1)})
        if d.stderr is not None:
            entry["standard_errors"] = {_KEYS.get(k, f"derivative_{k}"): d.stderr[k][i].tolist()
                                        for k in range(args.order + 1)}
        results.append(entry)
    return {"circuit": circuit.name, "device": profile.name if profile is not None else str(args.device),
            "symbols": list(circuit.symbols), "outputs": [str(o) for o in circuit.outputs], "order": args.order,
            "results": results, "stats": asdict(d.stats), "naive_circuits": d.plan.naive_circuits,
            "store": None if d.store is None else str(d.store), "method": d.method}


def _plan(args) -> None:
    circuit = _circuit(args.file)
    if args.target_stderr is not None:
        return _plan_rules(circuit, args)
    print(estimate(circuit, args.order, device=args.device, shots=args.shots, rows=args.rows, shift=args.shift,
                   rule=args.rule, mitigation=args.mitigation))


def _plan_rules(circuit: Circuit, args) -> None:
    table = choices(circuit, args.order, target_stderr=args.target_stderr, device=args.device, rows=args.rows,
                    shift=args.shift)
    profile = resolve_profile(args.device)
    currency = profile.price.currency if profile is not None and profile.price is not None else "USD"
    print(f"{circuit.name} orders 0..{args.order} on {args.device}: standard error <= {args.target_stderr:g} "
          "on every entry (a pilot of 100 shots per circuit, then top-ups at the worst-case shot variance)")
    rows = [[c.rule, f"{c.circuits:,}", f"{c.shots:,}", f"{c.tasks:,}", f"{c.price:,.2f} {currency}"] for c in table]
    print(text_table([["rule", "circuits", "shots", "tasks", "price"]] + rows, widths=(12, 8, 12, 6, 16)))
    print(f"min-cost picks: {cheapest(table).rule}")


def _devices(args) -> None:
    print(f"{'name':20}{'backend':11}{'runs here':11}{'shots':>8}  price")
    for name in bundled_profiles():
        p = load_profile(name)
        price = "free" if p.price is None else _price_text(p.price)
        print(f"{p.name:20}{p.backend:11}{'no (cloud)' if p.cloud else 'yes':11}{p.shots or 'exact':>8}  {price}")


def _store(args) -> None:
    if args.prune_older_than is not None and not args.prune_older_than >= 0:
        raise ValuesError("--prune-older-than must be a number of days, 0 or more", expected="e.g. 30",
                          received=str(args.prune_older_than), fix="pass how many days old an entry may be")
    path = Path(args.file).expanduser() if args.file else default_store_path()
    if not path.exists():
        print(f"store {path}: no such file (nothing stored yet)")
        return
    with EvaluationStore(path) as store:
        if args.prune_older_than is not None:
            removed = store.prune(args.prune_older_than * 86400, device=args.device, vacuum=args.vacuum)
            print(f"store {path}: pruned {removed['results']} results and {removed['tasks']} ended tasks "
                  f"older than {args.prune_older_than:g} days")
        counts = store.counts()
        size = path.stat().st_size
        print(f"store {path}: {size / 2 ** 20:.1f} MiB, " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def _price_text(price) -> str:
    parts = [f"{getattr(price, k)} {price.currency} {label}" for k, label in
             (("per_task", "/task"), ("per_shot", "/shot"), ("per_minute", "/min"), ("per_second", "/s"))
             if getattr(price, k, None)]
    return ", ".join(parts) + f" (read {price.prices_read})"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"run": _run, "plan": _plan, "devices": _devices, "store": _store}[args.command](args)
    except QShiftError as exc:
        if args.debug:
            raise
        print("qshift: error: " + str(exc), file=sys.stderr)  # problem, expected, received, fix: one per line
        return 2
    except BrokenPipeError:  # the reader went away (`qshift run ... --json | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    return 0


if __name__ == "__main__":
    sys.exit(main())
