"""Build the diffused skinning-weight grid for the Anny body (native `notoes` topology, 38 joints).

Usage: python benchmarks/skinning_grid.py [--resolutions 128,256] [--topology notoes] [--out DIR]
Prints, per resolution: wall time, peak resident memory of the process so far, and the error of
the grid's weights against the body's own at its vertices: the per-vertex L1 distance over joints
(sum_j |w_grid - w_body|, 0 = exact, 2 = disjoint), its mean and max over vertices, and the mean
absolute error per (vertex, joint) entry.
Run each resolution in a fresh process for a clean peak-memory figure (peak RSS only grows).
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import torch

from recmv.body.anny_body import AnnyBody
from recmv.body.skinning_field import diffuse_skinning_weights


def peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", default="128,256", help="comma-separated grid sizes")
    parser.add_argument("--topology", default="notoes")
    parser.add_argument(
        "--out", type=Path, help="save each grid as DIR/diffused_skinning_weights_<R>.npy"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    body = AnnyBody(args.topology)
    rest = body.rest()
    vertices, faces, weights = rest.vertices, body.faces, body.skinning_weights
    print(
        f"Anny {args.topology}: {vertices.shape[0]} vertices, {faces.shape[0]} faces, "
        f"{weights.shape[1]} joints, {torch.get_num_threads()} threads; "
        f"peak RSS after loading the body {peak_rss_gib():.2f} GiB"
    )
    print(
        f"{'resolution':>10}{'seconds':>10}{'peak RSS GiB':>14}{'mean L1':>10}{'max L1':>10}{'mean |dw|':>12}"
    )
    for resolution in (int(r) for r in args.resolutions.split(",")):
        start = time.perf_counter()
        grid = diffuse_skinning_weights(vertices, faces, weights, resolution)
        seconds = time.perf_counter() - start
        difference = (grid.query(vertices) - weights).abs()
        l1 = difference.sum(dim=1)
        print(
            f"{resolution:>10}{seconds:>10.1f}{peak_rss_gib():>14.2f}"
            f"{l1.mean().item():>10.4f}{l1.max().item():>10.3f}{difference.mean().item():>12.5f}"
        )
        if args.out is not None:
            grid.save(args.out / f"diffused_skinning_weights_{resolution}.npy")
        del grid


if __name__ == "__main__":
    main()
