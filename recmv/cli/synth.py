"""`recmv synth`: a synthetic clothed-body subject folder with ground truth."""

from __future__ import annotations

import argparse

from recmv.cli.options import comma_separated
from recmv.errors import RecmvError
from recmv.synth.config import NoiseParams, RealismParams, SynthConfig
from recmv.synth.motions import MOTIONS
from recmv.synth.realism import BACKGROUNDS
from recmv.tables import GARMENT_TYPES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="render a synthetic subject folder with ground truth",
        description="Render a synthetic clothed-body subject folder (REC-MV layout) with ground truth in OUT/gt/.",
    )
    defaults = SynthConfig()
    parser.add_argument("out", help="subject folder to write")
    parser.add_argument(
        "--garments",
        default=",".join(defaults.garments),
        help=f"comma-separated garment types, upper first ({', '.join(GARMENT_TYPES)})",
    )
    parser.add_argument("--motion", default=defaults.motion, choices=MOTIONS, help="motion of the first segment")
    parser.add_argument("--frames", type=int, default=defaults.frames, help="frames in the first segment")
    parser.add_argument("--large-motion", choices=("walk", "dance"), help="append a large-motion segment")
    parser.add_argument("--large-motion-frames", type=int, default=30, help="frames in the large-motion segment")
    parser.add_argument("--size", type=int, default=defaults.size, help="image width and height in pixels")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed for shape, garments, colours, noise")
    parser.add_argument("--topology", default=defaults.body_topology, help="Anny topology (notoes, notoes_collapse5pc)")
    parser.add_argument("--grid-resolution", type=int, default=defaults.grid_resolution, help="skinning grid size")
    parser.add_argument(
        "--garment-resolution", type=float, default=defaults.garment_resolution,
        help="target edge length of the procedural garments, metres",
    )
    parser.add_argument("--keyframe-every", type=int, default=defaults.keyframe_every, help="frames between 2D curves")
    parser.add_argument("--mask-noise", type=int, default=0, help="erode/dilate masks by up to this many pixels")
    parser.add_argument("--normal-noise", type=float, default=0.0, help="std of noise on the normal maps")
    parser.add_argument("--pose-noise", type=float, default=0.0, help="std of joint rotation noise (degrees)")
    realism = parser.add_argument_group("realism (hard input for `recmv prepare`)")
    realism.add_argument("--background", default="plain", choices=BACKGROUNDS, help="what is behind the person")
    realism.add_argument("--light-jitter", type=float, default=0.0, help="per-frame lighting change, radians")
    realism.add_argument("--image-noise", type=float, default=0.0, help="std of pixel noise, 8-bit levels")
    realism.add_argument("--motion-blur", type=float, default=0.0, help="directional blur length, pixels")
    realism.add_argument("--camera-shake", type=float, default=0.0, help="std of the per-frame image shift, pixels")
    realism.add_argument("--video", action="store_true", help="also write the frames as OUT/video.mp4")
    realism.add_argument("--fps", type=float, default=30.0, help="frame rate of video.mp4")
    parser.add_argument("--garment-mesh", help="OBJ of a garment in the body's canonical space")
    parser.add_argument("--garment-labels", help="JSON naming the boundary loops of --garment-mesh")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    garments = tuple(comma_separated(args.garments))
    for name, value in (("--frames", args.frames), ("--size", args.size), ("--grid-resolution", args.grid_resolution)):
        if value < 1:
            raise RecmvError(f"{name} must be a positive integer, got {value}")
    if args.frames < 3:
        raise RecmvError(f"--frames must be at least 3, got {args.frames}")
    if args.size < 32:
        raise RecmvError(f"--size must be at least 32 pixels, got {args.size}")
    if not 0.003 <= args.garment_resolution <= 0.1:
        raise RecmvError(f"--garment-resolution must be between 0.003 and 0.1 metres, got {args.garment_resolution}")
    if args.keyframe_every < 1:
        raise RecmvError(f"--keyframe-every must be at least 1, got {args.keyframe_every}")
    for name, value in (
        ("--light-jitter", args.light_jitter), ("--image-noise", args.image_noise),
        ("--motion-blur", args.motion_blur), ("--camera-shake", args.camera_shake),
    ):  # fmt: skip
        if value < 0:
            raise RecmvError(f"{name} must not be negative, got {value}")
    if args.fps <= 0:
        raise RecmvError(f"--fps must be positive, got {args.fps}")
    return SynthConfig(
        garments=garments,
        motion=args.motion,
        frames=args.frames,
        large_motion=args.large_motion,
        large_motion_frames=args.large_motion_frames if args.large_motion else 0,
        size=args.size,
        seed=args.seed,
        body_topology=args.topology,
        grid_resolution=args.grid_resolution,
        keyframe_every=args.keyframe_every,
        garment_resolution=args.garment_resolution,
        external_garment_mesh=args.garment_mesh,
        external_garment_labels=args.garment_labels,
        noise=NoiseParams(mask_px=args.mask_noise, normal_sigma=args.normal_noise, pose_degrees=args.pose_noise),
        realism=RealismParams(
            background=args.background, light_jitter=args.light_jitter, image_noise=args.image_noise,
            motion_blur_px=args.motion_blur, camera_shake_px=args.camera_shake, video=args.video, video_fps=args.fps,
        ),
    )


def run(args: argparse.Namespace) -> int:
    from recmv.synth.writer import synthesize

    config = config_from_args(args)
    summary = synthesize(config, args.out)
    print(summary)
    return 0
