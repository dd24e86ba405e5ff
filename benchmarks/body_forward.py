"""Time AnnyBody.forward on the full `notoes` topology (12,272 vertices) for 1 and 32 frames.

Usage: python benchmarks/body_forward.py [--topology notoes] [--repeats 20] [--device cpu]
Prints the median wall time of each call after warm-up, next to the shape-only part (rest()).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from recmv.body.anny_body import AnnyBody


def median_seconds(call, repeats: int, device: torch.device) -> float:
    def synchronise():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        call()
    synchronise()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        synchronise()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", default="notoes")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    body = AnnyBody(args.topology, device=device)
    generator = torch.Generator().manual_seed(0)
    rows = [("rest() only", median_seconds(lambda: body.rest(), args.repeats, device))]
    with torch.no_grad():
        for frames in (1, 32):
            pose = (0.3 * torch.randn(frames, body.num_joints, 3, generator=generator)).to(device)
            seconds = median_seconds(lambda: body(pose), args.repeats, device)
            rows.append((f"forward, {frames} frame{'s' if frames > 1 else ''}", seconds))
    pose = (0.3 * torch.randn(32, body.num_joints, 3, generator=generator)).to(device)
    pose.requires_grad_()

    def forward_backward():
        body(pose).vertices.square().sum().backward()

    rows.append(("forward+backward, 32 frames", median_seconds(forward_backward, args.repeats, device)))

    vertices = body.skinning_weights.shape[0]
    print(f"AnnyBody {args.topology}: {vertices} vertices, {body.num_joints} joints, "
          f"float32, {device}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"{'call':<30}{'ms':>10}{'ms/frame':>12}")
    for label, seconds in rows:
        frames = 32 if "32" in label else 1
        print(f"{label:<30}{1e3 * seconds:>10.2f}{1e3 * seconds / frames:>12.2f}")


if __name__ == "__main__":
    main()
