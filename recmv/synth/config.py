"""Typed settings of `recmv synth`."""

from __future__ import annotations

from dataclasses import dataclass, field

from recmv.synth.dynamics import DynamicsParams


@dataclass
class NoiseParams:
    """Imperfections that mimic real estimators (all 0 = perfect inputs)."""

    mask_px: int = 0
    """Each frame's mask (and parsing) is eroded or dilated by up to this many pixels."""
    normal_sigma: float = 0.0
    """Standard deviation of Gaussian noise added to the unit normals before encoding."""
    pose_degrees: float = 0.0
    """Standard deviation of the per-joint rotation noise in the written body poses, degrees."""


@dataclass
class RealismParams:
    """What makes the images look filmed rather than rendered (all off = clean renders on black)."""

    background: str = "plain"
    """Behind the person: plain (black), texture (a procedural room-like texture) or noise (1/f photographic noise)."""
    light_jitter: float = 0.0
    """Per-frame lighting change: the light direction wanders by up to this many radians, the
    ambient and exposure by up to this fraction, smoothly over the clip."""
    image_noise: float = 0.0
    """Standard deviation of Gaussian pixel noise, in 8-bit levels."""
    motion_blur_px: float = 0.0
    """Length of a directional blur (random direction per frame), pixels."""
    camera_shake_px: float = 0.0
    """Standard deviation of a smooth per-frame image shift, pixels; every image of the frame shifts."""
    video: bool = False
    """Also write the frames as SUBJECT/video.mp4 (H.264), the input `recmv prepare` takes."""
    video_fps: float = 30.0
    """Frame rate of video.mp4."""


@dataclass
class SynthConfig:
    """Everything that defines a synthetic subject; the same config and seed give the same folder."""

    garments: tuple[str, ...] = ("short_sleeve_upper", "skirt")
    """Garment types, upper first."""
    motion: str = "rotate"
    """Motion of the first segment (REC-MV's self-rotation part): rotate, walk or dance."""
    frames: int = 60
    """Frames in the first segment."""
    large_motion: str | None = None
    """Motion of an optional second, large-motion segment (walk or dance)."""
    large_motion_frames: int = 0
    """Frames in the large-motion segment."""
    size: int = 512
    """Image width and height in pixels."""
    seed: int = 0
    """Seed for the body shape, garment parameters, colours and noise."""
    body_topology: str = "notoes"
    """Anny topology: notoes (12k vertices) or notoes_collapse5pc (615, for tests)."""
    grid_resolution: int = 96
    """Resolution of the diffused skinning grid written with the subject."""
    keyframe_every: int = 5
    """Frames between 2D feature-curve annotations."""
    camera_distance: float = 3.0
    """Distance from the camera to the body, metres."""
    garment_resolution: float = 0.015
    """Target edge length of the procedural garments, metres."""
    external_garment_mesh: str | None = None
    """A garment mesh in the body's canonical space to use instead of a procedural one."""
    external_garment_labels: str | None = None
    """JSON naming the boundary loops of the external garment: {"kind": ..., "boundaries": {curve: [vertex ids]}}."""
    dynamics: DynamicsParams = field(default_factory=DynamicsParams)
    noise: NoiseParams = field(default_factory=NoiseParams)
    realism: RealismParams = field(default_factory=RealismParams)

    @property
    def total_frames(self) -> int:
        return self.frames + (self.large_motion_frames if self.large_motion else 0)
