"""Procedural garment templates on the canonical body, with boundary loops named by feature curve."""
