"""The ``qshift`` command line.

``qshift run FILE.qasm --values ... --order 2 --device NAME [--shots N] [--store FILE | --no-store]``
computes and prints value, gradient, Hessian and the counts (with an evaluation store, also how
many circuits came from it, were re-attached to running tasks, or were submitted);
``qshift plan FILE.qasm --order 2 --device NAME`` prints
circuits, jobs, shots and price for the planned and the naive way without running anything;
``qshift devices`` lists the device profiles; ``qshift store [--file F] [--prune-older-than DAYS]``
says what an evaluation store holds and deletes old results and ended tasks. Errors are one
line on stderr and exit status 2
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from qshift._errors import QShiftError, ValuesError
from qshift.api.derivatives import derivatives
from qshift.backends.profiles import bundled_profiles
from qshift.backends.registry import load_profile, resolve_profile
from qshift.cost.estimate import estimate
from qshift.cost.shots import cheapest, choices
from qshift.execution.store import EvaluationStore, default_store_path
from qshift.ir.circuit import Circuit
from qshift.ir.library import library

__all__ = ["main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an OpenQASM 3 file (or a library circuit name, e.g. hea-4q-2l)")
    parser.add_argument("--order", type=int, default=1, help="highest derivative order (default 1)")
    parser.add_argument("--device", default="local", help="device profile name or path to a .toml (default local)")
    parser.add_argument("--shots", type=int, default=None, help="shots per execution (default: the device's)")
    parser.add_argument("--rule", default="standard", help="shift-rule family: standard or min-circuits")
    parser.add_argument("--shift", type=float, default=None, help="shift parameter s in (0, pi), default pi/2")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qshift", description="Parameter-shift derivatives of quantum circuits.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compute value and derivatives at given symbol values")
    _common(run)
    run.add_argument("--values", type=float, nargs="+", required=True,
                     help="one value per symbol, in declaration order (a single value is used for every symbol)")
    run.add_argument("--seed", type=int, default=None, help="seed for shot sampling")
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
    if name in library():
        return Circuit.from_qasm(library()[name])
    return Circuit.from_qasm(name)


def _values(circuit: Circuit, given: list[float]) -> np.ndarray:
    if len(given) == 1:
        return np.full(circuit.n_symbols, given[0])
    if len(given) != circuit.n_symbols:
        raise ValuesError("wrong number of --values", expected=f"{circuit.n_symbols} values for {list(circuit.symbols)}"
                          " (or one value for all)", received=f"{len(given)} values",
                          fix="pass one value per symbol in declaration order")
    return np.array(given)


def _print_tensor(label: str, tensor: np.ndarray, circuit: Circuit, stderr: np.ndarray | None) -> None:
    print(f"{label}:" + ("  (± one standard error from shot noise)" if stderr is not None else ""))
    for k, pauli in enumerate(circuit.outputs):
        head = f"  <{pauli}>: "
        for name, block in (("", tensor[k]), ("± ", None if stderr is None else stderr[k])):
            if block is None:
                continue
            text = np.array2string(np.asarray(block), precision=6, suppress_small=True, max_line_width=100)
            pad = " " * len(head) if name else head
            print((pad[:-2] + name if name else pad) + text.replace("\n", "\n" + " " * len(head)))


def _run(args) -> None:
    circuit = _circuit(args.file)
    values = _values(circuit, args.values)
    d = derivatives(circuit, values, order=args.order, device=args.device, shots=args.shots, seed=args.seed,
                    shift=args.shift, rule=args.rule, store=args.store, max_cost=args.max_cost)
    print(repr(circuit))
    print("values: " + ", ".join(f"{s}={v:g}" for s, v in zip(circuit.symbols, values)))
    names = {0: "value", 1: "gradient", 2: "Hessian"}
    for k in range(args.order + 1):
        err = d.stderr[k] if d.stderr is not None else None
        _print_tensor(names.get(k, f"derivative {k}"), d.derivative(k), circuit, err)
    s = d.stats
    print(f"ran {s.circuits} circuits in {s.jobs} job(s), {s.executions} executions, {s.shots} shots "
          f"(naive nesting: {d.plan.naive_circuits} circuits)")
    if d.store is not None:
        print(f"store {d.store}: {s.from_store} circuits from the store, {s.reattached} re-attached, "
              f"{s.submitted} submitted")


def _plan(args) -> None:
    circuit = _circuit(args.file)
    if args.target_stderr is not None:
        return _plan_rules(circuit, args)
    print(estimate(circuit, args.order, device=args.device, shots=args.shots, rows=args.rows, shift=args.shift,
                   rule=args.rule))


def _plan_rules(circuit: Circuit, args) -> None:
    table = choices(circuit, args.order, target_stderr=args.target_stderr, device=args.device, rows=args.rows,
                    shift=args.shift)
    profile = resolve_profile(args.device)
    currency = profile.price.currency if profile is not None and profile.price is not None else "USD"
    print(f"{circuit.name} orders 0..{args.order} on {args.device}: standard error <= {args.target_stderr:g} "
          "on every entry (worst-case shot variance)")
    print(f"{'rule':14}{'circuits':>10}{'shots':>14}{'tasks':>8}{'price':>20}")
    for choice in table:
        print(choice.row(currency))
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
        print("qshift: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
