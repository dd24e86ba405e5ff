"""Time and peak memory of `recmv synth` at several image sizes.

Usage: python benchmarks/synth_subject.py --frames 100 --sizes 512,1080 [--garments short_sleeve_upper,skirt]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(frames: int, size: int, garments: str, grid: int) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of one `recmv synth` run in a fresh process."""
    out = Path(tempfile.mkdtemp(prefix="recmv_bench_synth_"))
    command = [
        sys.executable, "-m", "recmv.cli.main", "synth", str(out / "subject"),
        "--frames", str(frames), "--size", str(size), "--garments", garments, "--grid-resolution", str(grid),
    ]
    start = time.perf_counter()
    # Progress bars go to stderr; keep them out of the table (and show them if the run fails).
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"recmv synth failed:\n{result.stderr}")
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    shutil.rmtree(out)
    return seconds, peak_kib / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--sizes", default="512,1080")
    parser.add_argument("--garments", default="short_sleeve_upper,skirt")
    parser.add_argument("--grid-resolution", type=int, default=96)
    args = parser.parse_args()
    print("| frames | size | wall (s) | peak RSS (GiB, max over runs so far) |")
    print("| --- | --- | --- | --- |")
    for size in (int(s) for s in args.sizes.split(",")):
        seconds, peak = run_once(args.frames, size, args.garments, args.grid_resolution)
        print(f"| {args.frames} | {size}² | {seconds:.1f} | {peak:.2f} |", flush=True)


if __name__ == "__main__":
    main()
