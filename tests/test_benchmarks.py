"""The benchmarks run in CI-sized form (their speed targets are reported, not asserted: timing is not a test)."""
import subprocess
import sys

from conftest import PROJECT, needs_mediapipe


@needs_mediapipe
def test_estimate_benchmark_prints_its_table():
    proc = subprocess.run([sys.executable, "benchmarks/estimate.py", "--clips", "2", "--frames", "8"],
                          capture_output=True, text=True, cwd=PROJECT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| (")]
    assert [r.split("|")[1].strip()[:3] for r in rows] == ["(a)", "(b)", "(b)", "(c)"]
    assert all(float(r.split("|")[2]) > 0 for r in rows)
    assert "targets:" in proc.stdout


def test_compose_benchmark_counts_the_54_point_search():
    proc = subprocess.run([sys.executable, "benchmarks/compose.py"], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr
    assert "165 jobs" in proc.stdout and "'train': 54" in proc.stdout
