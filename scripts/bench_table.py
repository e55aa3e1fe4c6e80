#!/usr/bin/env python3
"""Render a saved benchmark run as a Markdown table.

    python scripts/bench_table.py benchmarks/results/cpu-2026-11-25.json

One row per mode x implementation: median samples/s, the ratio to the
plain-NumPy loop, the ratio to PyTorch on the same platform (CPU rows to
PyTorch CPU, GPU rows to PyTorch CUDA) and the share of the float32 GEMM
floor (peak matmul FLOP/s divided by 6 x parameters FLOPs per sample),
followed by the GEMM figures and the machine. Input: the JSON that
``pytest benchmarks --benchmark-enable --benchmark-only --benchmark-json FILE``
writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

IMPLEMENTATION_ORDER = [
    "gnet numpy",
    "gnet torch-cpu",
    "gnet cupy",
    "gnet torch-cuda",
    "plain NumPy",
    "PyTorch cpu",
    "PyTorch cuda",
]
MODE_ORDER = {"per-sample": 0, "mini-batch": 1, "full-batch": 2}
GEMM_GROUP = "float32 GEMM floor"


def samples_per_second(bench: dict) -> float:
    """Median samples/s of one benchmark: samples per round / median seconds."""
    return bench["extra_info"]["samples"] / bench["stats"]["median"]


def gemm_peaks(benchmarks: list[dict]) -> dict[str, tuple[float, str]]:
    """Best peak FLOP/s per platform (cpu, gpu) and the library that gave it."""
    peaks: dict[str, tuple[float, str]] = {}
    for b in benchmarks:
        if b.get("group") != GEMM_GROUP:
            continue
        info = b["extra_info"]
        peak = info["flops"] / b["stats"]["min"]
        platform = info.get("platform", "cpu")
        if platform not in peaks or peak > peaks[platform][0]:
            peaks[platform] = (peak, info["library"])
    return peaks


def _sort_key(bench: dict) -> tuple:
    info = bench["extra_info"]
    impl = info["implementation"]
    return (
        info["parameters"],
        MODE_ORDER.get(info["mode"], 9),
        info["batch_size"] if info["mode"] == "mini-batch" else 0,
        IMPLEMENTATION_ORDER.index(impl) if impl in IMPLEMENTATION_ORDER else 99,
        impl,
    )


def _mode_label(info: dict) -> str:
    if info["mode"] == "mini-batch":
        return f"mini-batch {info['batch_size']}"
    if info["mode"] == "per-sample":
        return f"per-sample ({info['samples']:,} samples)"
    return "full-batch"


def rows(data: dict) -> list[dict]:
    """One dict per training benchmark: model, mode, implementation, samples/s
    and the three ratios (None where the reference is missing)."""
    benchmarks = [b for b in data["benchmarks"] if b.get("group") != GEMM_GROUP]
    peaks = gemm_peaks(data["benchmarks"])
    by_group: dict[str, dict[str, float]] = {}
    for b in benchmarks:
        by_group.setdefault(b["group"], {})[b["extra_info"]["implementation"]] = samples_per_second(
            b
        )
    out = []
    for b in sorted(benchmarks, key=_sort_key):
        info = b["extra_info"]
        speed = samples_per_second(b)
        group = by_group[b["group"]]
        platform = info.get("platform", "cpu")
        torch_ref = group.get("PyTorch cuda" if platform == "gpu" else "PyTorch cpu")
        peak = peaks.get(platform)
        floor = peak[0] / (6 * info["parameters"]) if peak else None
        out.append(
            {
                "model": info["model"],
                "mode": _mode_label(info),
                "implementation": info["implementation"],
                "samples_per_second": speed,
                "vs_numpy": speed / group["plain NumPy"] if "plain NumPy" in group else None,
                "vs_torch": speed / torch_ref if torch_ref else None,
                "vs_floor": speed / floor if floor else None,
            }
        )
    return out


def render(data: dict) -> str:
    """The Markdown table, the GEMM floor and the machine, as one string."""
    lines = [
        "| model | mode | implementation | samples/s (median) | vs plain NumPy "
        "| vs PyTorch | of GEMM floor |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows(data):
        bold = "**" if r["implementation"].startswith("gnet") else ""
        lines.append(
            f"| {r['model']} | {r['mode']} | {bold}{r['implementation']}{bold} "
            f"| {r['samples_per_second']:,.0f} "
            f"| {_fmt(r['vs_numpy'], '×')} | {_fmt(r['vs_torch'], '×')} "
            f"| {_fmt(r['vs_floor'], '%')} |"
        )
    lines += ["", *gemm_lines(data), *machine_lines(data)]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.0f} %" if unit == "%" else f"{value:.2f}×"


def _threads(n: int | None) -> str:
    return "? threads" if n is None else f"{n} thread{'s' if n != 1 else ''}"


def gemm_lines(data: dict) -> list[str]:
    lines = []
    peaks = gemm_peaks(data["benchmarks"])
    for b in data["benchmarks"]:
        if b.get("group") != GEMM_GROUP:
            continue
        info = b["extra_info"]
        size = info["matrix_size"]
        lines.append(
            f"- float32 GEMM {size}×{size}, {info['library']} ({_threads(info.get('threads'))}): "
            f"peak {info['flops'] / b['stats']['min'] / 1e9:,.0f} GFLOP/s, "
            f"median {info['flops'] / b['stats']['median'] / 1e9:,.0f} GFLOP/s"
        )
    models = {}
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if b.get("group") != GEMM_GROUP:
            models[info["model"]] = info["parameters"]
    for platform, (peak, library) in sorted(peaks.items()):
        floors = ", ".join(
            f"{model} {peak / (6 * params):,.0f} samples/s" for model, params in models.items()
        )
        lines.append(
            f"- GEMM floor ({platform}, best peak: {library}, 6 × parameters FLOPs per "
            f"sample): {floors}"
        )
    return lines


def machine_lines(data: dict) -> list[str]:
    m = data.get("machine_info", {})
    blas = [
        f"{p.get('internal_api')} {p.get('version', '')} {p.get('architecture', '')} "
        f"× {p.get('num_threads')} threads".replace("  ", " ")
        for p in m.get("blas", [])
        if p.get("user_api") == "blas"
    ]
    parts = [
        m.get("cpu_model") or m.get("cpu", {}).get("brand_raw", "?"),
        f"{m.get('cores', '?')} cores",
        *blas,
    ]
    if m.get("threads_limit"):
        n = m["threads_limit"]
        parts.append(f"run limited to {n} thread{'s' if n != 1 else ''} (GNET_BENCH_THREADS)")
    env = m.get("openblas_env")
    if env:
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(env.items())))
    line = f"- Machine: {', '.join(str(p) for p in parts)}; {data.get('datetime', '')[:10]}"
    lines = [line.rstrip("; ")]
    if m.get("note"):
        lines.append(f"- Note: {m['note']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a pytest-benchmark JSON file")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.file.read_text())
    except (OSError, ValueError) as exc:
        print(f"bench_table: {args.file}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict) or "benchmarks" not in data:
        print(f"bench_table: {args.file}: not a pytest-benchmark JSON file", file=sys.stderr)
        return 2
    sys.stdout.write(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
