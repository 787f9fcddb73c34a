"""Conflict clusters: groups of links that cannot all be right, to review together.

Pairs are reviewed one at a time, but links constrain each other. If the type is one-to-one
(an entity matches at most one entity on the other side) and film f1 is linked to both m10 and
m11, one of the two links is wrong, and deciding them one by one hides that. Splink's cluster
studio shows the same idea: look at the connected component, not the edge.

Per aligned type, the links are the **accepted** labels plus the model's **predicted** matches
that no analyst has rejected: the matcher's decided pairs where the score table holds them
(issue 15: its threshold, then its 1-to-1 step), else the probability (or the score without a
calibrated model) at or above the threshold. They form a bipartite graph (networkx; nodes ``("left", id)`` and
``("right", id)``), and each connected component is one cluster. A cluster is a **conflict** when:

- **one-to-many**: in a one-to-one type, an entity has two or more links in it; or
- **contradiction**: a pair an analyst rejected has both its entities in it. The links say the
  two are the same entity (left a = right b = left c = right d means a = d), the label says they
  are not; one of them is wrong.

A component of one link cannot conflict, so only links that share an entity with another link
are put into the graph: at the paper's scale that is a small part of the predicted links.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

import networkx as nx
import pandas as pd

from core.review.queue import decision_value, predicted_matches

ACCEPTED, PREDICTED = "accepted", "predicted"
ONE_TO_MANY, CONTRADICTION = "one-to-many", "contradiction"


@dataclass(frozen=True)
class Link:
    """One edge of a cluster: an accepted label or a predicted match."""

    left_id: str
    right_id: str
    type: str
    source: str  # ACCEPTED or PREDICTED
    probability: float | None  # the model's probability (score without calibration); None if unscored

    @property
    def pair(self) -> tuple[str, str]:
        return self.left_id, self.right_id


@dataclass(frozen=True)
class ConflictCluster:
    """A connected component of links that cannot all be right.

    ``reasons`` are sentences naming the entities and what is wrong; ``kinds`` the conflict kinds
    found (``one-to-many``, ``contradiction``); ``rejected`` the rejected pairs inside it.
    """

    type: str
    left_ids: tuple[str, ...]
    right_ids: tuple[str, ...]
    links: tuple[Link, ...]  # accepted first, then by decreasing probability
    rejected: tuple[tuple[str, str], ...]
    kinds: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def key(self) -> str:
        """A stable name for the cluster (its type and smallest entity ids), e.g. for widget keys."""
        return f"{self.type}|{self.left_ids[0]}|{self.right_ids[0]}"

    @property
    def size(self) -> int:
        return len(self.left_ids) + len(self.right_ids)


def cluster_links(scores: pd.DataFrame, labels: pd.DataFrame, *, threshold: float = 0.5) -> pd.DataFrame:
    """The links clusters are made of: accepted labels and unrejected predicted matches.

    ``scores``: the score table (``left_id, right_id, type, score`` and optionally
    ``probability``); ``labels``: current labels (``left_id, right_id, type, decision``).
    Returns one row per pair: ``left_id, right_id, type, source, probability``.
    """
    value = decision_value(scores)
    mask = predicted_matches(scores, threshold)  # the matcher's decisions where the table holds them
    predicted = scores.loc[mask, ["left_id", "right_id", "type"]].assign(
        source=PREDICTED, probability=value[mask].to_numpy())
    decided = labels[["left_id", "right_id", "decision"]].astype({"left_id": str, "right_id": str})
    accepted = labels.loc[labels["decision"] == "accept", ["left_id", "right_id", "type"]].assign(source=ACCEPTED)
    known = predicted.merge(decided, on=["left_id", "right_id"], how="left")
    predicted = known[known["decision"].isna() | (known["decision"] == "skip")].drop(columns="decision")
    probability_of = dict(zip(zip(scores["left_id"].astype(str), scores["right_id"].astype(str)), value))
    accepted = accepted.assign(probability=[probability_of.get((str(a), str(b)))
                                            for a, b in zip(accepted["left_id"], accepted["right_id"])])
    links = pd.concat([accepted, predicted], ignore_index=True)
    links = links.astype({"left_id": str, "right_id": str, "type": str})
    return links.drop_duplicates(["left_id", "right_id"], keep="first").reset_index(drop=True)


def conflict_clusters(scores: pd.DataFrame, labels: pd.DataFrame, *, one_to_one: Collection[str],
                      threshold: float = 0.5) -> tuple[ConflictCluster, ...]:
    """Every conflict cluster (module docstring), biggest first, then by type and first ids.

    Parameters
    ----------
    scores, labels : as :func:`cluster_links` reads them.
    one_to_one : the aligned types where an entity matches at most one entity on the other side
        (``core.review.competitors.one_to_one_types`` reads them from the known links).
    threshold : the probability (score without calibration) at which the model predicts a match.
    """
    links = cluster_links(scores, labels, threshold=threshold)
    rejected = labels.loc[labels["decision"] == "reject", ["left_id", "right_id", "type"]].astype(str)
    found = []
    for type_name, of_type in links.groupby("type", sort=True):
        rejected_of_type = rejected[rejected["type"] == type_name]
        found += _clusters_of_type(str(type_name), of_type, rejected_of_type, one_to_one=type_name in one_to_one)
    return tuple(sorted(found, key=lambda c: (-c.size, c.type, c.left_ids, c.right_ids)))


def conflict_counts(clusters: Collection[ConflictCluster]) -> pd.DataFrame:
    """Per type: how many conflict clusters, of each kind, and how many links they hold (for the Overview).

    Columns ``type, clusters, one-to-many, contradiction, links``; a cluster with both kinds
    counts under both.
    """
    rows: dict[str, Counter] = {}
    for c in clusters:
        counter = rows.setdefault(c.type, Counter())
        counter["clusters"] += 1
        counter["links"] += len(c.links)
        for kind in c.kinds:
            counter[kind] += 1
    columns = ["type", "clusters", ONE_TO_MANY, CONTRADICTION, "links"]
    return pd.DataFrame([{"type": t, **{k: counter.get(k, 0) for k in columns[1:]}} for t, counter in sorted(rows.items())],
                        columns=columns)


def _clusters_of_type(type_name: str, links: pd.DataFrame, rejected: pd.DataFrame, *,
                      one_to_one: bool) -> list[ConflictCluster]:
    left_degree = links["left_id"].map(links["left_id"].value_counts())
    right_degree = links["right_id"].map(links["right_id"].value_counts())
    # a link whose two entities have no other link is a component of its own: it cannot conflict
    joined = links[(left_degree > 1) | (right_degree > 1)]
    graph = nx.Graph()
    for row in joined.itertuples(index=False):
        probability = None if row.probability is None or pd.isna(row.probability) else float(row.probability)
        graph.add_edge(("left", row.left_id), ("right", row.right_id),
                       link=Link(row.left_id, row.right_id, type_name, row.source, probability))
    rejected_by_node: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for a, b in zip(rejected["left_id"], rejected["right_id"]):
        if ("left", a) in graph and ("right", b) in graph:
            rejected_by_node.setdefault(("left", a), []).append((a, b))

    clusters = []
    for nodes in nx.connected_components(graph):
        component = graph.subgraph(nodes)
        kinds, reasons = [], []
        if one_to_one:
            for node in sorted(nodes):
                if component.degree(node) > 1:
                    side, entity = node
                    others = sorted(other for _, (_, other) in component.edges(node))
                    far = "right" if side == "left" else "left"
                    reasons.append(f"{side} {entity} is linked to {len(others)} entities on the {far} "
                                   f"({', '.join(others)}), but a {type_name} matches at most one")
            if reasons:
                kinds.append(ONE_TO_MANY)
        inside = sorted(pair for node in nodes for pair in rejected_by_node.get(node, ())
                        if ("right", pair[1]) in nodes)
        if inside:
            kinds.append(CONTRADICTION)
            reasons += [f"{a} and {b} were rejected as a match, yet the links join them" for a, b in inside]
        if not kinds:
            continue
        link_list = sorted((data["link"] for _, _, data in component.edges(data=True)),
                           key=lambda link: (link.source != ACCEPTED, -(link.probability or 0.0), link.pair))
        clusters.append(ConflictCluster(
            type_name, tuple(sorted(e for s, e in nodes if s == "left")),
            tuple(sorted(e for s, e in nodes if s == "right")), tuple(link_list), tuple(inside), tuple(kinds),
            tuple(reasons)))
    return clusters
