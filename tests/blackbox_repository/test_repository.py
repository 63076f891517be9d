"""load_blackbox / convert_blackbox: convert once, read from the cache after, and detect and
repair a damaged entry (bad checksum, truncated file, missing metadata, bad format version)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    CorruptBlackboxError,
    UnknownBlackboxError,
    blackbox_names,
    convert_blackbox,
    load_blackbox,
    read_blackbox,
)
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.file_format import METADATA_FILE, OBJECTIVES_FILE
from tests.blackbox_repository.conftest import LCDB_NAME, make_lcdb_recipe


@pytest.fixture
def gate(tmp_path):
    """An open gate: conversions run at once and are counted in ``gate/conversions``."""
    path = tmp_path / "gate"
    path.mkdir()
    (path / "go").touch()
    return path


@pytest.fixture
def entry(fresh_cache_dir, gate):
    """The test blackbox converted once into a fresh cache; returns its entry folder."""
    return convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe(gate))


def _conversions(gate) -> int:
    return len((gate / "conversions").read_text().split())


def _load(cache_dir, gate):
    return load_blackbox(LCDB_NAME, cache_dir=cache_dir, recipe=make_lcdb_recipe(gate))


def _folders(cache_dir) -> list[str]:
    return sorted(p.name for p in (cache_dir / "blackboxes").iterdir())


def test_first_load_converts_and_later_loads_read_the_cache(fresh_cache_dir, gate, lcdb_blackbox):
    first = _load(fresh_cache_dir, gate)
    second = _load(fresh_cache_dir, gate)

    assert _conversions(gate) == 1
    for loaded in (first, second):
        assert loaded.values.tobytes() == lcdb_blackbox.values.tobytes()
        assert loaded.configuration_space == lcdb_blackbox.configuration_space
    assert _folders(fresh_cache_dir) == [LCDB_NAME]


def test_modified_parquet_is_detected_and_fetched_again(
    entry, fresh_cache_dir, gate, lcdb_blackbox
):
    path = entry / OBJECTIVES_FILE
    content = bytearray(path.read_bytes())
    content[len(content) // 3] ^= 0x10
    path.write_bytes(bytes(content))
    with pytest.raises(ChecksumMismatchError, match=str(path)):
        read_blackbox(entry)

    repaired = _load(fresh_cache_dir, gate)

    assert repaired.values.tobytes() == lcdb_blackbox.values.tobytes()
    assert _conversions(gate) == 2
    read_blackbox(entry)  # the entry on disk is whole again
    assert _folders(fresh_cache_dir) == [LCDB_NAME]


def test_truncated_parquet_is_detected_and_fetched_again(
    entry, fresh_cache_dir, gate, lcdb_blackbox
):
    path = entry / OBJECTIVES_FILE
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptBlackboxError, match=f"{path} has .* bytes"):
        read_blackbox(entry)

    repaired = _load(fresh_cache_dir, gate)

    assert repaired.values.tobytes() == lcdb_blackbox.values.tobytes()
    assert _conversions(gate) == 2


def test_missing_metadata_is_not_an_entry_and_is_rebuilt(
    entry, fresh_cache_dir, gate, lcdb_blackbox
):
    (entry / METADATA_FILE).unlink()
    assert not BlackboxCache(fresh_cache_dir).has_entry(LCDB_NAME)
    with pytest.raises(CorruptBlackboxError, match=f"{entry / METADATA_FILE} is missing"):
        read_blackbox(entry)

    rebuilt = _load(fresh_cache_dir, gate)

    assert rebuilt.values.tobytes() == lcdb_blackbox.values.tobytes()
    assert _conversions(gate) == 2
    assert _folders(fresh_cache_dir) == [LCDB_NAME]  # the incomplete folder went to trash


def test_bad_format_version_is_reported_and_rebuilt(entry, fresh_cache_dir, gate, lcdb_blackbox):
    metadata = json.loads((entry / METADATA_FILE).read_text())
    metadata["format_version"] = 0
    (entry / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(
        CorruptBlackboxError, match="format version 0; this simtune reads version 2"
    ):
        read_blackbox(entry)

    rebuilt = _load(fresh_cache_dir, gate)

    assert rebuilt.values.tobytes() == lcdb_blackbox.values.tobytes()
    assert json.loads((entry / METADATA_FILE).read_text())["format_version"] == 2


@pytest.mark.usefixtures("shared_data_dir")
def test_convert_without_force_repairs_a_corrupt_entry_and_keeps_a_sound_one(
    entry, fresh_cache_dir, gate
):
    recipe = make_lcdb_recipe(gate)
    convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=recipe)
    assert _conversions(gate) == 1  # sound: kept

    (entry / OBJECTIVES_FILE).write_bytes(b"not parquet")
    convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=recipe)
    assert _conversions(gate) == 2  # corrupt: converted again
    read_blackbox(entry)

    convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=recipe, force=True)
    assert _conversions(gate) == 3  # forced


def test_unknown_name_suggests_close_names():
    known = blackbox_names()
    assert known, "the recipe registry is empty"
    misspelled = known[0][:-1]
    with pytest.raises(UnknownBlackboxError, match=f"unknown blackbox '{misspelled}'") as raised:
        load_blackbox(misspelled)
    assert known[0] in str(raised.value).split("Did you mean:")[1]
    assert "simtune blackbox list" in str(raised.value)


def test_a_recipe_that_does_not_provide_the_name_is_refused(fresh_cache_dir):
    with pytest.raises(ValueError, match=f"does not provide 'other-name'.*{LCDB_NAME}"):
        load_blackbox("other-name", cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe())


def test_unsafe_name_is_refused_before_touching_the_cache(fresh_cache_dir):
    with pytest.raises(ValueError, match="is not allowed"):
        load_blackbox("../outside", cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe())
    assert list(fresh_cache_dir.iterdir()) == []


def test_raw_file_with_wrong_checksum_is_refused(fresh_cache_dir, tmp_path):
    raw = tmp_path / "raw" / "lcdb"
    raw.mkdir(parents=True)
    (raw / "database-accuracy_openmlid_3.csv").write_text("openmlid,learner\n3,fake\n")
    with pytest.raises(ChecksumMismatchError, match="database-accuracy_openmlid_3.csv"):
        load_blackbox(
            LCDB_NAME,
            cache_dir=fresh_cache_dir,
            raw_data_dir=tmp_path / "raw",
            recipe=make_lcdb_recipe(),
        )
    assert not BlackboxCache(fresh_cache_dir).has_entry(LCDB_NAME)


def test_loaded_values_match_a_direct_conversion(entry, lcdb_blackbox):
    loaded = read_blackbox(entry)
    np.testing.assert_array_equal(loaded.fidelity_values, lcdb_blackbox.fidelity_values)
    assert loaded.lookup({"learner": "SVC_rbf"}, 2048, seed=4) == lcdb_blackbox.lookup(
        {"learner": "SVC_rbf"}, 2048, seed=4
    )
