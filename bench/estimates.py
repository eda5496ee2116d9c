"""Workload (d): circuits and dollars of every workload on a Braket QPU profile, planned vs naive,
by ``qshift.estimate(c, order=k, device="ionq-forte")`` (nothing is sent).

Naive is what nesting derivatives without sharing would send (``Plan.naive_circuits``); planned is
what qshift sends, and what the other benchmarks measured (``bench/run_all.py`` checks that the
planned count equals the measured one). Shots: the profile's default per execution.
Run: ``.venv/bin/python bench/estimates.py`` (``--quick`` for tiny sizes).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import qshift  # noqa: E402
from _common import (config_name, gradient_grid, hessian_grid, print_rows, row, third_order_grid,  # noqa: E402
                     training_configs)

DEVICE = "ionq-forte"


def requests(quick: bool):
    """(workload, config, circuit, order, rows) of every workload the other benchmarks run."""
    from training import config_label

    for workload, order, grid in (("gradient", 1, gradient_grid(quick)), ("hessian", 2, hessian_grid(quick)),
                                  ("third", 3, third_order_grid(quick))):
        for q, layers, outputs in grid:
            yield workload, config_name(q, layers, outputs), qshift.hardware_efficient(q, layers, outputs), order, 1
    for cfg in training_configs(quick):
        yield "training", config_label(cfg), qshift.hardware_efficient(cfg["qubits"], cfg["layers"]), 1, cfg["samples"]


def collect(quick: bool = False) -> list[dict]:
    rows = []
    for workload, config, c, order, n_rows in requests(quick):
        e = qshift.estimate(c, order=order, rows=n_rows, device=DEVICE)
        rows.append(row("estimate", f"qshift.estimate({DEVICE})", config=config, peer=False, estimated=workload,
                        order=order, rows=n_rows, symbols=c.n_symbols, circuits=e.planned.circuits,
                        naive_circuits=e.naive.circuits, tasks=e.planned.tasks, naive_tasks=e.naive.tasks,
                        shots=e.planned.shots, price=e.planned.price, naive_price=e.naive.price,
                        currency=e.currency, prices_read=e.prices_read))
    return rows


def main(quick: bool) -> None:
    print_rows(collect(quick), ["estimated", "config", "order", "rows", "circuits", "naive_circuits", "tasks", "price",
                                "naive_price", "currency"])


if __name__ == "__main__":
    main("--quick" in sys.argv)
