"""The boundary-loop walker, strict and lenient."""

from __future__ import annotations

import numpy as np
import pytest

from recmv.errors import RecmvError
from recmv.geometry.boundary import boundary_loops

# Two triangles of a square, wound counter-clockwise seen from +z: one loop 0-1-2-3.
SQUARE = np.array([[0, 1, 2], [0, 2, 3]])
# Two triangles touching at vertex 0 only: a pinched boundary.
BOWTIE = np.array([[0, 1, 2], [0, 3, 4]])


def test_a_square_has_one_loop_in_winding_order_in_both_modes():
    for strict in (True, False):
        (loop,) = boundary_loops(SQUARE, strict=strict)
        assert loop.tolist() == [0, 1, 2, 3]


def test_a_pinch_is_refused_when_strict_and_walked_otherwise():
    with pytest.raises(RecmvError, match="pinched"):
        boundary_loops(BOWTIE, strict=True)
    loops = boundary_loops(BOWTIE)
    assert sorted(v for loop in loops for v in set(loop.tolist()) - {0}) == [1, 2, 3, 4]
    assert all(0 in loop.tolist() for loop in loops)


def test_inconsistent_winding_is_refused_when_strict_and_walked_otherwise():
    flipped = np.array([[0, 1, 2], [0, 3, 2]])  # the second triangle wound against the first
    with pytest.raises(RecmvError):
        boundary_loops(flipped, strict=True)
    (loop,) = boundary_loops(flipped)
    assert sorted(loop.tolist()) == [0, 1, 2, 3]


def test_an_edge_of_three_faces_is_refused_when_strict():
    fin = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    with pytest.raises(RecmvError, match="more than two faces"):
        boundary_loops(fin, strict=True)
