"""Offline robustness sweep (not part of the test suite): build every garment type on randomised
bodies and parameters drawn as `recmv synth` draws them, check every template guarantee, and print
failures, the smallest triangle angle and the mean build time per type.

    python -m tests.templates.sweep --topology notoes --resolution 0.015 --seeds 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import numpy as np
import torch

from recmv.body.anny_body import AnnyBody
from recmv.errors import RecmvError
from recmv.tables import GARMENT_TYPES
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.garments import build_garment
from tests.templates.checks import check_template, smallest_angle_degrees, synth_params


def _build_and_check(job: tuple[str, str, float, int]) -> tuple[str, int, float, float, str]:
    """(kind, seed, seconds, smallest angle in degrees or nan, problem or "")."""
    topology, kind, resolution, seed = job
    torch.set_num_threads(1)
    rng = np.random.default_rng([seed, GARMENT_TYPES.index(kind)])
    shape = torch.tensor(rng.uniform(0.3, 0.7, size=6).round(4), dtype=torch.float32)
    body = BodyGeometry.from_body_model(_body(topology), shape)
    params = synth_params(kind, rng, resolution, layered=bool(seed % 2))
    start = time.perf_counter()
    try:
        template = build_garment(kind, body, params)
    except RecmvError as error:
        return kind, seed, time.perf_counter() - start, float("nan"), f"build: {error}"
    seconds = time.perf_counter() - start
    try:
        check_template(template, body, params)
    except AssertionError as error:
        return kind, seed, seconds, smallest_angle_degrees(template), f"check: {error}"
    return kind, seed, seconds, smallest_angle_degrees(template), ""


_BODIES: dict[str, AnnyBody] = {}


def _body(topology: str) -> AnnyBody:
    if topology not in _BODIES:
        _BODIES[topology] = AnnyBody(topology=topology)
    return _BODIES[topology]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", default="notoes")
    parser.add_argument("--resolution", type=float, default=0.015)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(args.topology, kind, args.resolution, seed) for seed in range(args.seeds) for kind in GARMENT_TYPES]
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.map(_build_and_check, jobs, chunksize=1)
    for kind, seed, seconds, angle, problem in results:
        if problem:
            print(f"FAIL {kind} seed {seed}: {problem}")
    failures = sum(1 for result in results if result[4])
    print(f"{failures} failures of {len(results)}; smallest angle {np.nanmin([r[3] for r in results]):.2f}°")
    for kind in GARMENT_TYPES:
        seconds = [r[2] for r in results if r[0] == kind]
        angles = [r[3] for r in results if r[0] == kind]
        print(f"{kind:20s} mean {np.mean(seconds):5.2f} s, smallest angle {np.nanmin(angles):5.2f}°")


if __name__ == "__main__":
    main()
