"""Appearance field: colour of a canonical surface point seen from a direction (REC-MV §4.2 item 6).

REC-MV's RenderingNetwork_view_norm takes [p, PE_4(v_canonical), n, SDF feature] -> 4 x 512 ReLU
(weight norm) -> 3, tanh. Its per-frame code is passed in but ignored, so it is left out here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from recmv.errors import RecmvError
from recmv.fields.encoding import encoded_size, positional_encoding


@dataclass(frozen=True)
class AppearanceConfig:
    """Shape of the appearance MLP."""

    hidden_dim: int = 512
    """Width of every hidden layer."""
    num_layers: int = 4
    """Number of hidden ReLU layers."""
    view_bands: int = 4
    """Positional-encoding bands of the canonical view direction."""
    feature_dim: int = 256
    """Width of the SDF feature vector it takes (must match the SDF config)."""
    weight_norm: bool = True
    """Weight-normalise every linear layer (REC-MV)."""

    @classmethod
    def reference(cls) -> AppearanceConfig:
        return cls()

    @classmethod
    def fast(cls) -> AppearanceConfig:
        """2 x 64, two view bands, 32 features: colour is an auxiliary cue for the geometry."""
        return cls(hidden_dim=64, num_layers=2, view_bands=2, feature_dim=32)


class AppearanceField(nn.Module):
    """[p (3), PE(v) , n (3), feature (F)] -> RGB in [-1, 1]."""

    def __init__(self, config: AppearanceConfig | None = None) -> None:
        super().__init__()
        config = AppearanceConfig.fast() if config is None else config
        self.config = config
        widths = [3 + encoded_size(config.view_bands) + 3 + config.feature_dim] + [config.hidden_dim] * config.num_layers
        layers: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(widths):
            layers += [self._linear(fan_in, fan_out), nn.ReLU()]
        layers += [self._linear(widths[-1], 3), nn.Tanh()]
        self.mlp = nn.Sequential(*layers)

    def _linear(self, fan_in: int, fan_out: int) -> nn.Module:
        linear = nn.Linear(fan_in, fan_out)
        return weight_norm(linear) if self.config.weight_norm else linear

    def forward(
        self, points: torch.Tensor, view_dirs: torch.Tensor, normals: torch.Tensor, features: torch.Tensor
    ) -> torch.Tensor:
        """points, view_dirs, normals: [N, 3]; features: [N, F] -> colours [N, 3] in [-1, 1]."""
        count = points.shape[0]
        for name, tensor, width in (
            ("points", points, 3), ("view_dirs", view_dirs, 3), ("normals", normals, 3),
            ("features", features, self.config.feature_dim),
        ):
            if tensor.shape != (count, width):
                raise RecmvError(f"AppearanceField {name}: expected [{count}, {width}], got {tuple(tensor.shape)}")
        encoded_view = positional_encoding(view_dirs, self.config.view_bands)
        return self.mlp(torch.cat([points, encoded_view, normals, features], dim=1))
