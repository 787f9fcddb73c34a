"""DBP15K names="ids": the structure-only setting, where every name is the entity's id."""

from __future__ import annotations

import pytest

from core.formats.dbp15k import load_dbp15k
from tests.core.formats.test_load_dbp15k import write_tiny


def test_ids_replace_every_name_on_both_sides(tmp_path):
    directory = write_tiny(tmp_path / "tiny")
    uri = load_dbp15k(directory)
    ids = load_dbp15k(directory, names="ids")
    assert list(ids.left.names) == ["0", "1", "2"]
    assert list(ids.right.names) == ["10", "11", "12", "13"]
    # everything but the names is the URI load's
    assert list(ids.left.entity_ids) == list(uri.left.entity_ids)
    assert ids.right.relation_names == uri.right.relation_names
    assert (ids.links.left == uri.links.left).all() and (ids.links.split == uri.links.split).all()
    # no link keeps a name in common: the names say nothing about the alignment
    assert not (ids.left.names[ids.links.left] == ids.right.names[ids.links.right]).any()


def test_ids_need_no_translation_file_and_bad_names_are_refused(tmp_path):
    directory = write_tiny(tmp_path / "tiny", ent_ids_1_trans_en=None)
    assert list(load_dbp15k(directory, names="ids").left.names) == ["0", "1", "2"]
    with pytest.raises(ValueError, match=r"names must be one of \['uri', 'translated', 'ids'\]"):
        load_dbp15k(directory, names="id")
