"""Author links derived from matched DBLP-ACM papers: one-to-one, mostly same-named, split."""

from __future__ import annotations

import numpy as np

from core.data.derive_links import derive_neighbour_links, with_links
from core.data.links import Split
from core.formats.tables import load_tables


def test_dblp_acm_author_links(shared_data):
    dataset = load_tables(shared_data / "dblp_acm", "dblp_acm")
    links, report = derive_neighbour_links(dataset, "paper", "author")
    assert report.n_links == len(links) > 2000
    assert report.estimated_precision > 0.97
    assert len(np.unique(links.left)) == len(links) and len(np.unique(links.right)) == len(links)
    author = dataset.schema.type_index("author")
    assert (links.type == author).all() and (links.label == 1).all()
    assert set(np.unique(links.split)) == {Split.TRAIN.code, Split.VALID.code, Split.TEST.code}
    merged = with_links(dataset, links)
    assert len(merged.links) == len(dataset.links) + len(links)
    # every derived pair joins authors of two matched papers
    left_names = dataset.left.names[links.left[:50]]
    right_names = dataset.right.names[links.right[:50]]
    assert sum(a.split()[-1] == b.split()[-1] for a, b in zip(left_names, right_names)) >= 45
