"""Explicit 3D feature curves in canonical space (REC-MV §3.3-3.4): model, initialisation, visibility."""
