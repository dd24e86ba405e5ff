"""Non-rigid deformation network shared by all garments and curves (REC-MV §3.7).

The field returns an offset; the caller forms x' = x + offset(x, z_g(t)) and then skins x'. Keeping
the sum outside lets the caller choose what to warp (SDF samples, mesh vertices, curve points) and
keeps this module a plain function of its inputs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from recmv.errors import RecmvError
from recmv.fields.encoding import encoded_size, positional_encoding


@dataclass(frozen=True)
class DeformationConfig:
    """Shape and initialisation of the deformation MLP."""

    hidden_dim: int = 512
    """Width of every hidden layer."""
    num_layers: int = 4
    """Number of hidden layers (each followed by ReLU)."""
    num_bands: int = 6
    """Positional-encoding frequency bands of x (annealed coarse-to-fine during training)."""
    latent_dim: int = 128
    """Size of the per-garment, per-frame latent code z."""
    code_std: float = 0.1
    """Std of the DCT coefficients that make the initial codes (REC-MV: 0.1)."""
    last_layer_std: float = 1e-3
    """Std of the output layer weights (bias zero), so the field starts near the identity."""

    @classmethod
    def reference(cls) -> DeformationConfig:
        """REC-MV's MLPTranslator: [PE_6(x), z_128] = 167 -> 4 x 512 -> 3."""
        return cls()

    @classmethod
    def fast(cls) -> DeformationConfig:
        """3 x 128 with 32-d codes: per-frame garment motion beyond skinning is smooth and
        low-dimensional; ~43k parameters instead of ~0.88M keep CPU iterations cheap. The 6 bands
        are kept so REC-MV's annealing schedule applies unchanged."""
        return cls(hidden_dim=128, num_layers=3, latent_dim=32)

    def __post_init__(self) -> None:
        if self.hidden_dim < 1 or self.num_layers < 1 or self.latent_dim < 0 or self.code_std < 0:
            raise RecmvError(
                "DeformationConfig needs hidden_dim >= 1, num_layers >= 1, latent_dim >= 0 and code_std >= 0, got "
                f"{self.hidden_dim}, {self.num_layers}, {self.latent_dim}, {self.code_std}"
            )
        encoded_size(self.num_bands)


class DeformationField(nn.Module):
    """ReLU MLP on [PE(x), z] returning the non-rigid offset of canonical points."""

    def __init__(self, config: DeformationConfig | None = None) -> None:
        super().__init__()
        config = DeformationConfig.fast() if config is None else config
        self.config = config
        widths = [encoded_size(config.num_bands) + config.latent_dim]
        widths += [config.hidden_dim] * config.num_layers
        layers: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(widths):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        output = nn.Linear(widths[-1], 3)
        with torch.no_grad():
            nn.init.normal_(output.weight, mean=0.0, std=config.last_layer_std)
            nn.init.zeros_(output.bias)
        layers.append(output)
        self.mlp = nn.Sequential(*layers)

    def forward(
        self,
        points: torch.Tensor,
        latent: torch.Tensor,
        band_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """points: [N, 3], latent: [N, L] or [L] (shared), band_weights: [num_bands] -> offsets [N, 3]."""
        if points.ndim != 2 or points.shape[1] != 3:
            raise RecmvError(f"DeformationField expects points [N, 3], got {tuple(points.shape)}")
        latent_dim = self.config.latent_dim
        if latent.ndim == 1 and latent.shape[0] == latent_dim:
            latent = latent[None].expand(points.shape[0], latent_dim)
        elif latent.shape != (points.shape[0], latent_dim):
            raise RecmvError(
                f"DeformationField expects latent [{latent_dim}] or [{points.shape[0]}, "
                f"{latent_dim}], got {tuple(latent.shape)}"
            )
        encoded = positional_encoding(points, self.config.num_bands, band_weights)
        return self.mlp(torch.cat([encoded, latent.to(encoded)], dim=1))


def deformation_jacobian(
    field: DeformationField,
    points: torch.Tensor,
    latent: torch.Tensor,
    band_weights: torch.Tensor | None = None,
    create_graph: bool = True,
) -> torch.Tensor:
    """Jacobian of x -> x + offset(x, z) at each point. points: [N, 3] -> [N, 3, 3], J[n, i, j] = dy_i/dx_j.

    Three reverse-mode passes (one per output coordinate): points are independent, so the gradient
    of the summed i-th coordinate is row i of every point's Jacobian. With create_graph=True a loss
    on the Jacobian back-propagates into the field's parameters (and the latent codes).
    """
    outer_grad = torch.is_grad_enabled()
    with torch.enable_grad():
        if not points.requires_grad:
            points = points.detach().requires_grad_(True)
        offsets = field(points, latent, band_weights)
        rows = [
            torch.autograd.grad(
                offsets[:, i].sum(),
                points,
                create_graph=create_graph and outer_grad,
                retain_graph=True if i < 2 else None,
            )[0]
            for i in range(3)
        ]
    jacobian = torch.stack(rows, dim=1) + torch.eye(3, dtype=points.dtype, device=points.device)
    return jacobian if outer_grad else jacobian.detach()
