"""The template cache: a second build is read back, any change of its inputs builds anew, a broken entry
is rebuilt, and an empty RECMV_TEMPLATE_CACHE turns it off."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from recmv.templates import cache
from recmv.templates.garments import GarmentParams
from tests.templates.fixtures import anny_geometry


@pytest.fixture
def counted_builds(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    builds = []
    build = cache.build_garment

    def counting(kind, body, params):
        builds.append(kind)
        return build(kind, body, params)

    monkeypatch.setattr(cache, "build_garment", counting)
    return builds


def coarse(kind: str, **changes) -> GarmentParams:
    return dataclasses.replace(GarmentParams.defaults(kind), resolution=0.04, **changes)


def test_a_second_request_reads_the_same_template_back(counted_builds, tmp_path):
    body = anny_geometry()
    first = cache.garment_template("skirt", body, coarse("skirt"))
    second = cache.garment_template("skirt", body, coarse("skirt"))
    assert counted_builds == ["skirt"] and len(list(tmp_path.glob("skirt-*.npz"))) == 1
    torch.testing.assert_close(second.vertices, first.vertices, rtol=0, atol=0)
    assert torch.equal(second.faces, first.faces) and second.kind == "skirt"
    assert list(second.boundaries) == list(first.boundaries)
    assert all(torch.equal(second.boundaries[n], first.boundaries[n]) for n in first.boundaries)


def test_other_parameters_or_another_body_build_anew(counted_builds):
    body = anny_geometry()
    cache.garment_template("skirt", body, coarse("skirt"))
    cache.garment_template("skirt", body, coarse("skirt", looseness=GarmentParams.defaults("skirt").looseness * 1.5))
    taller = dataclasses.replace(body, vertices=body.vertices * 1.05)
    cache.garment_template("skirt", taller, coarse("skirt"))
    assert counted_builds == ["skirt"] * 3


def test_an_unreadable_entry_is_built_again(counted_builds, tmp_path, caplog):
    body = anny_geometry()
    cache.garment_template("skirt", body, coarse("skirt"))
    (entry,) = tmp_path.glob("skirt-*.npz")
    entry.write_bytes(b"not a zip file")
    rebuilt = cache.garment_template("skirt", body, coarse("skirt"))
    assert counted_builds == ["skirt", "skirt"] and "unreadable cached template" in caplog.text
    assert rebuilt.faces.shape[0] > 0


def test_an_empty_cache_variable_turns_the_cache_off(counted_builds, monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, "")
    body = anny_geometry()
    cache.garment_template("skirt", body, coarse("skirt"))
    cache.garment_template("skirt", body, coarse("skirt"))
    assert counted_builds == ["skirt", "skirt"] and not list(tmp_path.iterdir())
