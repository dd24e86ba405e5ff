"""Per-frame parameters and the garment model that assembles fields, warp and renderers."""
