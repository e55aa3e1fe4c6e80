#!/usr/bin/env python3
"""Plot test accuracy against training seconds for the three modes on one PNG.

    python scripts/plot_time_to_accuracy.py \\
        benchmarks/results/time-to-accuracy-cpu-2026-11-25.json \\
        --out benchmarks/results/time-to-accuracy-cpu.png

Reads the JSON that ``benchmarks/test_time_to_accuracy.py`` writes and draws,
for each mode, the run with its best learning rate (dotted: the other rates
of the grid), with the target (97 % for the MLP, 99 % for the Keras CNN)
and the time budget marked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COLOURS = {"per-sample": "tab:red", "mini-batch": "tab:blue", "full-batch": "tab:green"}


def label(run: dict) -> str:
    mode = run["mode"]
    name = f"mini-batch {run['batch_size']}" if mode == "mini-batch" else mode
    return f"{name}, lr {run['learning_rate']:g}"


def plot(data: dict, out: Path, all_rates: bool = True) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    target = 100 * data.get("target_accuracy", 0.97)
    best = {mode: (b["learning_rate"]) for mode, b in data["best"].items()}
    for run in data["runs"]:
        mode = run["mode"]
        is_best = best.get(mode) == run["learning_rate"]
        if not (is_best or all_rates) or not run["points"]:
            continue
        points = run["points"]
        if run.get("diverged") or points[-1][2] == 0.0:
            points = points[:-1]  # a diverged run ends with a point of accuracy 0
        seconds = [p[0] for p in points]
        accuracy = [100 * p[2] for p in points]
        extra = ""
        if is_best and run.get("seconds_to_target") is not None:
            epochs = run["epochs_to_target"]
            shown = f"{epochs:.1f}" if epochs < 10 else f"{epochs:.0f}"
            extra = f": {target:g} % in {run['seconds_to_target']:.1f} s, {shown} epochs"
        elif is_best:
            extra = f": {100 * run['best_accuracy']:.1f} % best"
        ax.plot(
            seconds,
            accuracy,
            color=COLOURS.get(mode, "black"),
            linestyle="-" if is_best else ":",
            linewidth=2 if is_best else 1,
            alpha=1.0 if is_best else 0.6,
            label=label(run) + extra if is_best else None,
        )
    budget = data.get("budget_seconds", 60)
    ax.axhline(target, color="grey", linewidth=0.8, linestyle="--")
    ax.axvline(budget, color="grey", linewidth=0.8, linestyle="--")
    ax.text(budget, 99.4, f" {budget:g} s budget", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_ylim(80, 100)
    ax.set_xlabel("training time, seconds (log scale; test evaluation excluded)")
    ax.set_ylabel("test accuracy, %")
    machine, model = data.get("machine", {}), data.get("model", "784-128-10, SGD momentum 0.9")
    ax.set_title(
        f"MNIST, {model} on {data.get('device', 'cpu')} "
        f"({machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, title="best rate per mode (dotted: other rates)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="time-to-accuracy JSON")
    parser.add_argument("--out", type=Path, help="PNG to write (default: FILE with .png)")
    parser.add_argument("--best-only", action="store_true", help="omit the other learning rates")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.file.read_text())
    except (OSError, ValueError) as exc:
        print(f"plot_time_to_accuracy: {args.file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict) or "runs" not in data or "best" not in data:
        print(f"plot_time_to_accuracy: {args.file}: not a time-to-accuracy file", file=sys.stderr)
        return 2
    out = args.out or args.file.with_suffix(".png")
    plot(data, out, all_rates=not args.best_only)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
