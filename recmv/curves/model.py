"""The learnable feature curves (REC-MV §3.4, `Intersect_Free_Curve`).

Each closed curve c has a fixed centre mu_c, unit radial directions d_ci, radii r_ci and a mean
normal n_c; its points are p_ci = mu_c + d_ci r_ci a_ci + b_ci n_c with learnable a and b (init 1 and
0). A point moves only along its own radial ray and the curve normal, so the curve's projection on its
plane stays star-shaped around mu_c with the points in their angular order: it cannot cross itself
however the parameters move.

REC-MV writes a = ReLU(scale); here a = exp(log_scale). With the ReLU a point pushed past the centre
sits on it with zero gradient for the rest of the fit, and several such points make the curve
degenerate; the exponential keeps every radius positive and makes steps relative to the radius.

A curve is owned by one garment (tables.CURVES_OWNED): it is warped with that garment's code and
snapped to that garment's SDF.
"""

from __future__ import annotations

import torch
from torch import nn

from recmv.curves.ops import curve_frame
from recmv.errors import RecmvError


class FeatureCurves(nn.Module):
    """C closed curves of K points in canonical space.

    names: C curve names; owners: [C] index of the owning garment.
    Buffers centre [C, 3], directions [C, K, 3], radii [C, K], normal [C, 3];
    parameters log_scale [C, K] (log a) and normal_offset [C, K] (b).
    """

    def __init__(self, names: list[str], owners: list[int], loops: torch.Tensor) -> None:
        super().__init__()
        if loops.ndim != 3 or loops.shape[0] != len(names) or loops.shape[-1] != 3:
            raise RecmvError(f"curve loops: expected [{len(names)}, K, 3], got {tuple(loops.shape)}")
        if len(owners) != len(names):
            raise RecmvError(f"curve owners: expected {len(names)}, got {len(owners)}")
        self.names = list(names)
        self.register_buffer("owners", torch.tensor(owners, dtype=torch.long))
        count, points = loops.shape[:2]
        self.register_buffer("centre", loops.new_zeros(count, 3))
        self.register_buffer("directions", loops.new_zeros(count, points, 3))
        self.register_buffer("radii", loops.new_zeros(count, points))
        self.register_buffer("normal", loops.new_zeros(count, 3))
        self.log_scale = nn.Parameter(loops.new_zeros(count, points))
        self.normal_offset = nn.Parameter(loops.new_zeros(count, points))
        self.reset(loops)

    @torch.no_grad()
    def reset(self, loops: torch.Tensor) -> None:
        """Rebuild the fixed frame from loops [C, K, 3] and set the parameters to the identity."""
        centre, directions, radii, normal = curve_frame(loops.to(self.centre))
        self.centre.copy_(centre)
        self.directions.copy_(directions)
        self.radii.copy_(radii)
        self.normal.copy_(normal)
        self.log_scale.zero_()
        self.normal_offset.zero_()

    def forward(self) -> torch.Tensor:
        """[C, K, 3] the canonical curve points."""
        radial = self.directions * (self.radii * self.log_scale.exp())[..., None]
        return self.centre[:, None] + radial + self.normal_offset[..., None] * self.normal[:, None]

    def index(self, name: str) -> int:
        return self.names.index(name)
