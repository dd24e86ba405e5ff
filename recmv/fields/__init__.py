"""Neural fields: garment SDF networks, the non-rigid deformation network, encodings, latent codes."""

from recmv.fields.deformation import (
    DeformationConfig,
    DeformationField,
    deformation_jacobian,
)
from recmv.fields.encoding import (
    annealing_weights,
    deformer_annealing_ratio,
    encoded_size,
    positional_encoding,
)
from recmv.fields.latent import dct_basis, smooth_latent_codes
from recmv.fields.sdf import GarmentSDF, SDFConfig, SDFOutput

__all__ = [
    "DeformationConfig",
    "DeformationField",
    "GarmentSDF",
    "SDFConfig",
    "SDFOutput",
    "annealing_weights",
    "dct_basis",
    "deformation_jacobian",
    "deformer_annealing_ratio",
    "encoded_size",
    "positional_encoding",
    "smooth_latent_codes",
]
