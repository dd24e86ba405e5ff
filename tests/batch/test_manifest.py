"""Manifest reading: YAML and CSV, defaults, nested and dotted fit options, and errors naming line and field."""

from __future__ import annotations

import pytest

from recmv.batch.manifest import ManifestError, load_manifest
from recmv.training.config import fast_config


def write(path, text: str):
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_yaml_defaults_nested_options_and_stage_merge(tmp_path):
    (tmp_path / "subjects" / "s1").mkdir(parents=True)
    manifest = write(tmp_path / "jobs.yaml", """
defaults:
  epochs: 3
  sdf_init: {iterations: 40}
jobs:
  - name: first
    input: subjects/s1
    garments: short_sleeve_upper + skirt
    stages: [{batch_size: 1}]
  - name: second
    input: /elsewhere/video.mp4
    preset: reference
    epochs: 5
    sdf_init.batch_size: 123
""")
    first, second = load_manifest(manifest)
    base = fast_config()
    assert first.input == (tmp_path / "subjects" / "s1").resolve() and first.line == 5
    assert first.garments == ("short_sleeve_upper", "skirt")
    assert first.fit_config.epochs == 3 and first.fit_config.sdf_init.iterations == 40
    assert first.fit_config.sdf_init.batch_size == base.sdf_init.batch_size
    # One stage left, the preset's first one with a batch of 1 (its weights kept).
    assert len(first.fit_config.stages) == 1
    assert first.fit_config.stages[0].batch_size == 1 and first.fit_config.stages[0].weights == base.stages[0].weights
    assert second.preset == "reference" and second.fit_config.preset == "reference"
    assert second.fit_config.epochs == 5 and second.fit_config.sdf_init.batch_size == 123
    assert second.fit_config.sdf_init.iterations == 40
    assert first.fit_kwargs()["stages"] == first.fit_config.stages


def test_csv_rows_with_option_columns(tmp_path):
    manifest = write(tmp_path / "jobs.csv", """
name,input,garments,preset,epochs,working_size,optim.milestones
a,subj_a,"long_sleeve_upper,long_pants",fast,2,64,"[1, 2]"
b,subj_b,,,,,
""")
    a, b = load_manifest(manifest)
    assert a.garments == ("long_sleeve_upper", "long_pants") and a.line == 2
    assert a.fit_config.epochs == 2 and a.fit_config.working_size == 64 and a.fit_config.optim.milestones == (1, 2)
    assert b.garments is None and b.preset is None and b.line == 3
    assert b.fit_config == fast_config()


@pytest.mark.parametrize(
    "body, expected",
    [
        ("- {name: a, input: x, epoch: 2}", "line 1, field 'epoch': not a job field or fit option; did you mean 'epochs'?"),
        ("- {name: a, input: x, epochs: two}", f"line 1, field 'epochs': expected a value like {fast_config().epochs}, got 'two'"),
        ("- {name: a, input: x}\n- {name: a, input: y}", "line 2, field 'name': 'a' is already the name of the job on line 1"),
        ("- {name: a, input: x, garments: [cape]}", "line 1, field 'garments': unknown garment type 'cape'"),
        ("- {name: 'a/b', input: x}", "line 1, field 'name': expected a folder name"),
        ("- {name: a}", "line 1, field 'input': expected the path"),
        ("- {name: a, input: x, sdf_init: {iters: 3}}", "field 'sdf_init.iters': not an option of sdf_init"),
        ("- {name: a, input: x, epochs: 0}", "line 1: fit config: epochs must be >= 1, got 0"),
        ("- {name: a, input: x, extract: {cell_size: big}}", "field 'extract.cell_size': expected float or null, got 'big'"),
        ("- {name: a, input: x, crash_fit_after: -1}", "field 'crash_fit_after': expected a positive integer"),
        ("[]", "lists no jobs"),
        ("jobs: [{name: a, input: x}]\nextra: 1", "field 'extra': expected only `jobs:` and `defaults:`"),
    ],
)
def test_bad_entries_name_the_line_and_field(tmp_path, body, expected):
    manifest = write(tmp_path / "jobs.yaml", body)
    with pytest.raises(ManifestError) as error:
        load_manifest(manifest)
    assert str(error.value).startswith(str(manifest))
    assert expected in str(error.value)


def test_csv_error_names_its_row_line(tmp_path):
    manifest = write(tmp_path / "jobs.csv", "name,input,epochs\na,x,2\nb,y,1.5\n")
    with pytest.raises(ManifestError, match=rf"jobs.csv line 3, field 'epochs': expected a value like {fast_config().epochs}, got 1.5"):
        load_manifest(manifest)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(ManifestError, match="expected a .yaml, .yml or .csv manifest"):
        load_manifest(write(tmp_path / "jobs.txt", "x"))
    with pytest.raises(ManifestError, match="no such manifest file"):
        load_manifest(tmp_path / "absent.yaml")
