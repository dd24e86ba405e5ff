"""Synthetic clothed-body subjects with exact ground truth (`recmv synth`)."""
