"""Typed settings of the feature curves in `recmv fit` (REC-MV §3.3, §3.4, §4.3, §5.5-5.8)."""

from __future__ import annotations

from dataclasses import dataclass

from recmv.errors import RecmvError
from recmv.tables import CURVE_NAMES


@dataclass(frozen=True)
class CurveConfig:
    """How the curves are built, initialised, seen and coupled to the rest of the fit."""

    points: int = 199
    """Points per closed curve (REC-MV: 199)."""
    lr: float = 2e-3
    """Adam on the curve parameters (0 freezes them; REC-MV: AdamW at 1e-4 over ~50x more iterations)."""
    coupled: bool = False
    """False (REC-MV): the projection and SDF-on-curve terms move only the curves. True: they also move
    the SDFs, the deformation, the codes, the poses and the camera (on the default bench: closer waists and
    skirt and dress hems, worse cuffs, trouser hems and canonical curves; see the README)."""
    coupled_curves: tuple[str, ...] = ()
    """With `coupled` False: the curves (by name, e.g. ("upper_bottom",)) whose projection and SDF-on-curve
    terms are coupled all the same; the others move only themselves. Names a subject lacks are ignored."""
    visibility_tolerance: float = 0.03
    """Metres a curve point may lie behind the first surface on its camera ray (body and posed garment
    meshes) and still count as visible."""
    cap_hem: bool = False
    """Also close the lower garment's SDF across its hem (REC-MV's CURVE_AWARE subjects)."""
    cap_openings: bool = False
    """Also close every garment's SDF across each curve it owns: neck, cuffs, hems (not in REC-MV).
    The caps of the hole-closed template lie inside the body, where no image term holds them and the
    body-penetration term pushes their points out of the plane; a cap that bulges past its curve
    survives the opening cut as a membrane inside the body."""
    cap_samples: int = 4096
    """Points sampled per iteration on each cap disc (REC-MV: 50 000)."""
    init_steps: int = 150
    """Adam steps of each stage of the similarity initialisation (translation+scale, scale, rotation)."""
    init_lr: float = 5e-3
    """Learning rate of the translation and log-scale stages (metres and log units)."""
    init_rotation_lr: float = 3e-3
    """Learning rate of the rotation stage (radians)."""
    init_visibility_every: int = 50
    """Initialisation steps between visibility updates at the current curve positions."""

    def __post_init__(self) -> None:
        unknown = [name for name in self.coupled_curves if name not in CURVE_NAMES]
        if unknown:
            raise RecmvError(
                f"curves.coupled_curves: unknown curve {', '.join(map(repr, unknown))} (expected some of {', '.join(CURVE_NAMES)})"
            )

    def is_coupled(self, name: str) -> bool:
        """Whether curve `name`'s projection and SDF-on-curve terms also move the SDFs, deformation and poses."""
        return self.coupled or name in self.coupled_curves

    @classmethod
    def reference(cls) -> CurveConfig:
        """REC-MV's curve optimiser rate."""
        return cls(lr=1e-4)
