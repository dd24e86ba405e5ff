"""Build a BodyModel from the body description in a subject's metadata.

A description is a dict such as {"model": "anny", "topology": "notoes", "shape": [...]} or
{"model": "smpl", "model_path": "SMPL_FEMALE.pkl", "canonical_pose_type": 0, "shape": [...]}.
"""

from __future__ import annotations

import torch

from recmv.body.base import BodyModel
from recmv.errors import RecmvError

MODELS = ("anny", "smpl")
_DEFAULT_SHAPES = {"anny": [0.5] * 6, "smpl": [0.0] * 10}


def _model_name(description: dict) -> str:
    name = description.get("model")
    if name not in MODELS:
        raise RecmvError(f"body model must be one of {MODELS}, got {name!r}")
    return name


def build_body_model(
    description: dict, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> BodyModel:
    """The body model a description names, with its buffers in `dtype` on `device`."""
    name = _model_name(description)
    if name == "anny":
        from recmv.body.anny_body import AnnyBody

        return AnnyBody(topology=description.get("topology", "notoes"), dtype=dtype, device=device)

    from recmv.body.smpl import SMPLBody

    model_path = description.get("model_path")
    if not model_path:
        raise RecmvError(
            "an SMPL body needs 'model_path': the SMPL model file (.npz or .pkl) you downloaded"
        )
    return SMPLBody(
        model_path,
        canonical_pose_type=description.get("canonical_pose_type", 0),
        dtype=dtype,
        device=device,
    )


def shape_tensor(
    description: dict, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """[S] the description's "shape" list, or the model's default shape when it has none."""
    name = _model_name(description)
    default = _DEFAULT_SHAPES[name]
    values = description.get("shape", default)
    if len(values) != len(default):
        raise RecmvError(
            f"{name} shape must have {len(default)} values, got {len(values)}: {values!r}"
        )
    return torch.tensor(values, dtype=dtype, device=device)
