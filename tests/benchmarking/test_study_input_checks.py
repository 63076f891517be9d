"""Bad study input is refused at once with a line that says what to do: seeds, YAML keys,
an output path that is a file."""

from __future__ import annotations

import pytest

from benchmarking.cli import main
from benchmarking.study_spec import (
    MAX_SEED,
    MAX_SEEDS,
    Study,
    StudyError,
    checked_seeds,
    parse_seeds,
    read_study_file,
)
from blackbox_repository.errors import SimtuneError

RUN = ["run", "--methods", "RS", "--benchmarks", "sklearn-mlp-digits", "--no-progress"]


def test_a_reversed_seed_range_says_so():
    with pytest.raises(StudyError, match=r"the range '5-0' is reversed; write 0-5"):
        parse_seeds("5-0")


def test_huge_seed_ranges_are_refused_before_any_seed_is_listed():
    with pytest.raises(StudyError, match=rf"seed 999999999999 .* seeds go from 0 to {MAX_SEED}"):
        parse_seeds("0-999999999999")
    with pytest.raises(StudyError, match=rf"name {MAX_SEEDS + 1:,} seeds; a study takes at most"):
        parse_seeds(f"0-{MAX_SEEDS}")
    assert len(parse_seeds(f"0-{MAX_SEEDS - 1}")) == MAX_SEEDS
    assert parse_seeds("0-3,7,9-10") == (0, 1, 2, 3, 7, 9, 10)


def test_the_command_line_refuses_bad_seeds_before_anything_else(tmp_path, capsys):
    for seeds, message in (
        ("5-0", "the range '5-0' is reversed; write 0-5"),
        ("0-999999999999", "seeds go from 0 to"),
    ):
        assert main([*RUN, "--seeds", seeds, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("simtune: error: ") and message in err
        assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_seeds_listed_in_a_study_file_must_be_whole_numbers(tmp_path):
    study_file = tmp_path / "study.yaml"
    study_file.write_text("methods: [RS]\nbenchmarks: [sklearn-mlp-digits]\nseeds: [0, 1.7]\n")
    with pytest.raises(StudyError, match=r"seed 1.7 is not a whole number"):
        Study.from_yaml(study_file)
    assert checked_seeds([3, 1, 2.0]) == (3, 1, 2)
    with pytest.raises(StudyError, match="out of range"):
        checked_seeds([-1])
    assert issubclass(StudyError, SimtuneError) and issubclass(StudyError, ValueError)


def test_unknown_study_file_keys_suggest_the_known_ones(tmp_path):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        "methods: [RS]\nbenchmark: [sklearn-mlp-digits]\nseed: 0-4\nmax_wallclock: 3\n"
    )
    with pytest.raises(StudyError) as error:
        read_study_file(study_file)
    message = str(error.value)
    assert "unknown keys ['benchmark', 'max_wallclock', 'seed']" in message
    assert (
        "Did you mean: 'benchmarks' for 'benchmark', 'max_wallclock_time' for "
        "'max_wallclock', 'seeds' for 'seed'?" in message
    )
    with pytest.raises(StudyError, match=r"Did you mean: 'kwargs' for 'kwarg'\?"):
        Study.from_names([{"method": "ASHA", "kwarg": {}}], ["sklearn-mlp-digits"], "0")


def test_an_output_path_that_is_a_file_is_one_clear_line(tmp_path, capsys):
    taken = tmp_path / "notes.txt"
    taken.write_text("not a study")
    assert main([*RUN, "--seeds", "0", "--out", str(taken)]) == 2
    assert capsys.readouterr().err == (
        f"simtune: error: --out {taken}: it is a file, not a folder; give a folder "
        "(a new one, or the output folder of an earlier run to resume it)\n"
    )
    assert main([*RUN, "--seeds", "0", "--out", str(taken / "below")]) == 2
    assert f"{taken} is a file, not a folder" in capsys.readouterr().err
    assert main(["collect", str(tmp_path), "--dataset-dir", str(taken)]) == 2
    assert "--dataset-dir" in capsys.readouterr().err
    assert main(["plot", str(tmp_path), "--plots-dir", str(taken)]) == 2
    assert "--plots-dir" in capsys.readouterr().err
    assert taken.read_text() == "not a study"  # nothing was written over it
