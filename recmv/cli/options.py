"""Parsing helpers shared by the commands' option values."""

from __future__ import annotations


def comma_separated(text: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated option value."""
    return [item.strip() for item in text.split(",") if item.strip()]
