"""recmv: separate, open-boundary garment meshes from a monocular video (a REC-MV implementation)."""

__version__ = "0.1.0"
