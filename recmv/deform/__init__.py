"""Canonical -> posed warps: non-rigid offset, then skinning (REC-MV §3.6-3.7)."""
