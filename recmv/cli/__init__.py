"""Command-line interface: the only layer that picks devices, paths and presets."""
