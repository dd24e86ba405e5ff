"""Cameras, ray casting and rendering."""
