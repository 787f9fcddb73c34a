"""Shared by the matcher's tests: the small music demo pair, blocked once for the whole session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def music():
    """(dataset, candidates): 150 songs with planted look-alikes, each left entity's 10 best names.

    Here it replaces the repository-wide ``music`` fixture (which keeps the pair object and 20
    candidates a left entity) for the matcher's tests.
    """
    from core.blocking.name_blocking import BlockingConfig, block
    from core.demo.music import generate_music_pair

    dataset = generate_music_pair(150, seed=0).dataset
    candidates, _ = block(dataset, BlockingConfig(top_k=10))
    return dataset, candidates
