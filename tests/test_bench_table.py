"""scripts/bench_table.py: a pytest-benchmark JSON file -> Markdown table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_table.py"


@pytest.fixture(scope="module")
def bench_table():
    spec = importlib.util.spec_from_file_location("bench_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _epoch(impl, seconds, mode="mini-batch", batch=128, samples=60_000, platform="cpu"):
    group = f"784-128-10 {mode} {batch}" if mode == "mini-batch" else f"784-128-10 {mode}"
    return {
        "group": group,
        "name": f"test_epoch[{impl}]",
        "extra_info": {
            "model": "784-128-10",
            "mode": mode,
            "batch_size": batch,
            "samples": samples,
            "parameters": 101_770,
            "implementation": impl,
            "platform": platform,
        },
        "stats": {"median": seconds, "min": seconds * 0.9},
    }


def _gemm(library, min_seconds, flops=2 * 4096**3):
    return {
        "group": "float32 GEMM floor",
        "name": f"test_gemm_floor[{library}]",
        "extra_info": {
            "library": library,
            "flops": flops,
            "matrix_size": 4096,
            "platform": "cpu",
            "threads": 2,
        },
        "stats": {"median": min_seconds * 1.1, "min": min_seconds},
    }


@pytest.fixture
def run():
    return {
        "datetime": "2026-11-25T08:00:00",
        "machine_info": {
            "cpu_model": "Test CPU",
            "cores": 2,
            "blas": [
                {
                    "user_api": "blas",
                    "internal_api": "openblas",
                    "version": "0.3",
                    "architecture": "Haswell",
                    "num_threads": 2,
                }
            ],
            "note": "shared machine",
        },
        "benchmarks": [
            _epoch("PyTorch cpu", 0.4),  # 150,000 samples/s
            _epoch("gnet numpy", 0.25),  # 240,000
            _epoch("plain NumPy", 0.3),  # 200,000
            _epoch("gnet numpy", 0.5, mode="per-sample", batch=1, samples=5_000),  # 10,000
            _epoch("plain NumPy", 0.4, mode="per-sample", batch=1, samples=5_000),  # 12,500
            # peak 2 * 4096**3 / 0.5 s = 274.9 GFLOP/s; numpy's is the best
            _gemm("numpy", 0.5),
            _gemm("torch", 1.0),
        ],
    }


def test_rows_give_median_speed_and_ratios(bench_table, run):
    rows = bench_table.rows(run)
    assert [(r["mode"], r["implementation"]) for r in rows] == [
        ("per-sample (5,000 samples)", "gnet numpy"),
        ("per-sample (5,000 samples)", "plain NumPy"),
        ("mini-batch 128", "gnet numpy"),
        ("mini-batch 128", "plain NumPy"),
        ("mini-batch 128", "PyTorch cpu"),
    ]
    gnet_mb = rows[2]
    assert gnet_mb["samples_per_second"] == pytest.approx(240_000)
    assert gnet_mb["vs_numpy"] == pytest.approx(1.2)
    assert gnet_mb["vs_torch"] == pytest.approx(1.6)
    floor = 2 * 4096**3 / 0.5 / (6 * 101_770)
    assert gnet_mb["vs_floor"] == pytest.approx(240_000 / floor)
    assert rows[0]["vs_numpy"] == pytest.approx(0.8)
    assert rows[0]["vs_torch"] is None  # no PyTorch in that group


def test_render_is_a_markdown_table(bench_table, run):
    text = bench_table.render(run)
    lines = text.splitlines()
    assert lines[0].startswith("| model | mode | implementation | samples/s (median)")
    assert lines[1].startswith("| --- |")
    assert "| 784-128-10 | mini-batch 128 | **gnet numpy** | 240,000 | 1.20× | 1.60× |" in text
    assert "| 784-128-10 | per-sample (5,000 samples) | plain NumPy | 12,500 | 1.00× | – |" in text
    assert "peak 275 GFLOP/s" in text
    assert "best peak: numpy" in text
    assert "Test CPU, 2 cores, openblas 0.3 Haswell × 2 threads" in text
    assert "- Note: shared machine" in text


def test_main_reads_a_file(bench_table, run, tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    assert bench_table.main([str(path)]) == 0
    assert "**gnet numpy**" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["not json", "[]", '{"other": 1}'])
def test_main_rejects_other_files(bench_table, tmp_path, capsys, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert bench_table.main([str(path)]) == 2
    assert "bench_table:" in capsys.readouterr().err


def test_main_reports_a_missing_file(bench_table, tmp_path, capsys):
    assert bench_table.main([str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
