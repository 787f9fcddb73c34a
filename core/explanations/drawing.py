"""Draw a pair's two sampled neighbourhoods with the attention that scored it, as one HTML page.

The review app shows this page in an iframe. It is built with pyvis (vis-network), with:

- **nothing from the internet**: vis-network's JS and CSS are inlined from the installed pyvis
  package (``cdn_resources="in_line"``), and the Bootstrap ``<link>``/``<script>`` tags pyvis's
  template always adds are removed; :func:`remote_references` checks the result, and rendering
  raises if a remote reference survives (e.g. after a pyvis upgrade changed the template);
- **a fixed layout**: the left neighbourhood on the left, the right one on the right, each radial
  by hop around its pair entity, physics off. The same pair looks the same every time, and a
  100-node drawing appears at once instead of after a physics simulation;
- **untrusted names kept as text**: names go into node labels (drawn on a canvas) and hover titles
  as plain text, never as markup. vis-network sets a string title with ``innerText``; the
  embedded JSON escapes ``<``, ``>``, ``&`` and ``'`` (Jinja's ``tojson``), and the page is
  rendered without pyvis's link-tooltip variant, which pyvis switches on when any title contains
  ``href`` and which sets titles with ``innerHTML``. The legend, which is HTML, escapes every value
  it shows with :func:`html.escape`.

What is drawn (node ids ``L:<entity id>`` and ``R:<entity id>``, so the sides never merge):

- nodes coloured by aligned entity type (one colour-blind-safe palette: a left film and a right
  movie share a colour), the two pair entities bigger with a thick border;
- hop-1 edges (the top layer's sampled neighbours) with width ``1 + 9 * value`` and a light-to-dark
  colour, where value is w, alpha or beta as :class:`AttentionMode` chooses (each lies in [0, 1]
  and sums to 1 over a side's neighbours, so widths compare across pairs);
- hop-2 edges thin and grey: the lower layer averages them, so they carry no attention;
- dashed edges from each hop-1 neighbour to its closest counterpart among the other side's
  neighbours, the comparison behind the cross-graph attention, with width ``1 + 4 * alpha``.

:func:`drawing_data` reads the nodes and edges back out of the page, so tests (and a browser test)
can compare the drawing with the :class:`~core.explanations.records.Explanation` it came from. The
records need no torch, so neither does this module.
"""

from __future__ import annotations

import html
import json
import math
import re
from enum import Enum

import pandas as pd
from pyvis.network import Network

from core.explanations.records import Explanation, Neighbourhood, NeighbourhoodEdge, NeighbourhoodNode


class AttentionMode(Enum):
    """Which top-layer attention value sets the width and colour of hop-1 edges."""

    COMBINED = "w"  # w = alpha * beta renormalised: what the aggregation used
    CROSS = "alpha"  # cross-graph attention: does the other side know a close counterpart?
    SELF = "beta"  # relation-aware self-attention

    @property
    def label(self) -> str:
        return {"w": "combined weight w = α·β renormalised", "alpha": "cross-graph attention α",
                "beta": "self-attention β"}[self.value]

    def of(self, edge: NeighbourhoodEdge) -> float:
        """The edge's value in this mode (hop-1 edges only)."""
        value = {"w": edge.weight, "alpha": edge.alpha, "beta": edge.beta}[self.value]
        if value is None:
            raise ValueError(f"edge {edge.source_id} -> {edge.target_id} ({edge.relation}) is a hop-{edge.hop} "
                             f"edge: only hop-1 edges carry attention")
        return value


#: Okabe & Ito's colour-blind-safe palette (black replaced by grey). More types than colours
#: cycle through it with another node shape, so every type stays distinguishable.
TYPE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
TYPE_SHAPES = ("dot", "square", "triangle", "diamond", "star", "triangleDown")
#: Hop-1 edges: width 1 (value 0) to 1 + MAX_EXTRA_WIDTH (value 1), colour from light to dark blue.
MIN_EDGE_WIDTH, MAX_EXTRA_WIDTH = 1.0, 9.0
LIGHT, DARK = (0xC6, 0xDB, 0xEF), (0x08, 0x30, 0x6B)
COUNTERPART_COLOUR, HOP2_COLOUR, UNKNOWN_COLOUR = "#6B6B6B", "#BDBDBD", "#FFFFFF"
LABEL_CHARS = 24
LEGEND_HEIGHT_PX = 84  # the page is height_px + this tall
#: radii of the layout (canvas pixels; the view is fitted, so only ratios show)
HOP1_RADIUS, HOP2_GAP, NODE_SPACING, SIDE_GAP = 190.0, 190.0, 34.0, 180.0
#: each side is an ellipse this much taller than wide: two sides next to each other then fill a
#: landscape canvas (about 1.6:1) instead of leaving bands above and below
VERTICAL_STRETCH = 1.35


def edge_width(value: float) -> float:
    """Hop-1 edge width for an attention value in [0, 1]."""
    return MIN_EDGE_WIDTH + MAX_EXTRA_WIDTH * float(value)


def edge_colour(value: float) -> str:
    """Light (value 0) to dark (value 1) blue."""
    t = min(max(float(value), 0.0), 1.0)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(LIGHT, DARK))


def render_pair_html(explanation: Explanation, *, mode: AttentionMode | str = AttentionMode.COMBINED,
                     height_px: int = 620) -> str:
    """A self-contained HTML page drawing both sampled neighbourhoods of a pair.

    Parameters
    ----------
    explanation : from :func:`core.explanations.attention.explain_pair`.
    mode : the attention value that sets hop-1 edge widths (an :class:`AttentionMode` or its
        value, ``"w"``, ``"alpha"`` or ``"beta"``).
    height_px : height of the drawing canvas; the legend above it adds :data:`LEGEND_HEIGHT_PX`.

    Returns
    -------
    str
        The page; it loads nothing from the network. :func:`drawing_data` reads its nodes and
        edges back.

    Raises
    ------
    ValueError : unknown ``mode`` or a non-positive ``height_px``.
    RuntimeError : the pyvis template references a remote resource that could not be removed.
    """
    mode = AttentionMode(mode)
    if height_px <= 0:
        raise ValueError(f"height_px must be positive, got {height_px}")
    sides = (("L", "left", _with_pair(explanation.left_neighbourhood, explanation.left_id)),
             ("R", "right", _with_pair(explanation.right_neighbourhood, explanation.right_id)))
    palette = _TypePalette(explanation.aligned_type_names, {side: nb for _, side, nb in sides})

    net = Network(height=f"{height_px}px", width="100%", directed=True, cdn_resources="in_line")
    for prefix, side, neighbourhood in sides:
        # each side faces the other one; the pair entities sit just far enough apart not to overlap
        positions, extent = _radial_layout(neighbourhood, facing=0.0 if prefix == "L" else math.pi)
        centre = (extent + SIDE_GAP / 2) * (-1 if prefix == "L" else 1)
        for node in neighbourhood.nodes:
            x, y = positions[node.entity_id]
            _add_node(net, prefix, side, node, centre + x, VERTICAL_STRETCH * y, palette)
        _add_structure_edges(net, prefix, side, neighbourhood, mode)
    for (prefix, other_prefix, evidence) in (("L", "R", explanation.left), ("R", "L", explanation.right)):
        for row in evidence:
            if row.counterpart_id is not None:
                _add_counterpart_edge(net, prefix, other_prefix, row)

    options = {
        "physics": {"enabled": False},
        "layout": {"improvedLayout": False},
        "interaction": {"hover": True, "tooltipDelay": 100, "multiselect": False},
        "nodes": {"font": {"size": 14, "face": "sans-serif"}},
        "edges": {"smooth": False, "font": {"size": 13, "align": "middle", "strokeWidth": 3},
                  "arrows": {"to": {"enabled": True, "scaleFactor": 0.45}}},
    }
    page = _render(net, options, height_px)
    page = _strip_remote(page)
    page = page.replace("<body>", "<body>\n" + _legend(explanation, mode, palette), 1)
    page = page.replace("</head>", _page_style(height_px) + "</head>", 1)
    page = page.replace("</body>", _FIT_SCRIPT + "</body>", 1)
    remote = remote_references(page)
    if remote:
        raise RuntimeError(f"the drawing would load {remote[0]!r} from the internet; the pyvis template "
                           f"changed (installed pyvis: check core/explanations/drawing.py's _strip_remote)")
    return page


def drawing_data(page: str) -> tuple[list[dict], list[dict]]:
    """The (nodes, edges) a page from :func:`render_pair_html` draws, as vis-network reads them.

    Besides vis-network's own keys (``id``, ``label``, ``title``, ``from``, ``to``, ``width``...),
    nodes carry ``side``, ``entity_id``, ``entity_name``, ``entity_type``, ``aligned_type`` and
    ``hop``; edges carry ``kind`` (``hop1``, ``hop2`` or ``counterpart``), ``relation``, ``alpha``,
    ``beta``, ``w`` and ``hop``.

    Raises
    ------
    ValueError : the page has no vis-network node or edge data.
    """
    return _dataset(page, "nodes"), _dataset(page, "edges")


def remote_references(page: str) -> list[str]:
    """Every ``src``/``href`` attribute of an HTML tag that points off the machine (http, https, //)."""
    found = []
    for tag in re.finditer(r"<(?:script|link|img|iframe|source|embed|object|a)\b[^>]*>", page, flags=re.IGNORECASE):
        for m in re.finditer(r"\b(?:src|href|data)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]*)", tag.group(0),
                             flags=re.IGNORECASE):
            found.append(m.group(1))
    for m in re.finditer(r"@import\s+(?:url\()?[\"']?((?:https?:)?//[^\"')\s]*)", page, flags=re.IGNORECASE):
        found.append(m.group(1))
    return found


def evidence_table(explanation: Explanation, side: str) -> pd.DataFrame:
    """One side's top-layer evidence as a table, by decreasing w.

    Columns: ``neighbour``, ``type``, ``relation``, ``alpha``, ``beta``, ``w``,
    ``closest counterpart`` (the other side's neighbour nearest to this one; empty if that side
    has no neighbours).

    Raises
    ------
    ValueError : ``side`` is not ``"left"`` or ``"right"``.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    rows = explanation.left if side == "left" else explanation.right
    table = pd.DataFrame(
        [(r.name or r.entity_id, r.type, r.relation, r.alpha, r.beta, r.weight, r.counterpart_name or "")
         for r in rows],
        columns=["neighbour", "type", "relation", "alpha", "beta", "w", "closest counterpart"])
    table = table.astype({"alpha": "float64", "beta": "float64", "w": "float64"})
    return table.sort_values("w", ascending=False, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------ parts ----
class _TypePalette:
    """Colour (and, past the palette's length, shape) of each aligned type, by the model's type order."""

    def __init__(self, type_order: tuple[str, ...], neighbourhoods: dict[str, Neighbourhood]):
        order = list(type_order)
        self.own_names: dict[str, dict[str, set[str]]] = {}
        for side, neighbourhood in neighbourhoods.items():
            for node in neighbourhood.nodes:
                key = self.key(node)
                if not key:  # a pair entity of a hand-built explanation: type unknown
                    continue
                if key not in order:
                    order.append(key)
                self.own_names.setdefault(key, {"left": set(), "right": set()})[side].add(node.type)
        self.order = order

    @staticmethod
    def key(node: NeighbourhoodNode) -> str:
        return node.aligned_type or node.type

    def colour(self, key: str) -> str:
        return TYPE_COLOURS[self.order.index(key) % len(TYPE_COLOURS)] if key in self.order else UNKNOWN_COLOUR

    def shape(self, key: str) -> str:
        return TYPE_SHAPES[(self.order.index(key) // len(TYPE_COLOURS)) % len(TYPE_SHAPES)] if key in self.order \
            else "dot"

    def present(self) -> list[str]:
        return [k for k in self.order if k in self.own_names]


def _with_pair(neighbourhood: Neighbourhood, pair_id: str) -> Neighbourhood:
    """A hand-built explanation may lack neighbourhoods: still draw its pair entity."""
    if neighbourhood.nodes:
        return neighbourhood
    return Neighbourhood((NeighbourhoodNode(pair_id, "", "", 0),), ())


def _radial_layout(neighbourhood: Neighbourhood, facing: float = 0.0) -> tuple[dict[str, tuple[float, float]], float]:
    """Positions around the pair entity at (0, 0), and the outermost radius.

    Hop-1 nodes sit on a circle, the heaviest facing the other graph (angle ``facing``) and the
    next ones alternating on either side of it, so the dashed cross-graph links stay short. Each
    hop-1 node owns an arc of the outer circle proportional to 1 + its number of hop-2 children
    (a child drawn under the first hop-1 node that reached it), and the children spread over it,
    on two staggered radii so neighbouring labels do not collide.
    """
    pair = neighbourhood.nodes[0].entity_id
    hop1 = [n.entity_id for n in neighbourhood.nodes if n.hop == 1]
    hop2 = {n.entity_id for n in neighbourhood.nodes if n.hop == 2}
    children: dict[str, list[str]] = {h: [] for h in hop1}
    placed: set[str] = set()
    for e in neighbourhood.edges:
        if e.hop == 2 and e.target_id in hop2 and e.target_id not in placed and e.source_id in children:
            children[e.source_id].append(e.target_id)
            placed.add(e.target_id)
    positions = {pair: (0.0, 0.0)}
    if not hop1:
        return positions, 0.0
    # circular order: ..., 4th, 2nd, 1st, 3rd, 5th, ... (by decreasing weight), 1st centred on `facing`
    circle = hop1[1::2][::-1] + hop1[0::2]
    shares = [1 + len(children[h]) for h in circle]
    total = sum(shares)
    outer = max(HOP1_RADIUS + HOP2_GAP, total * NODE_SPACING / (2 * math.pi)) if placed else HOP1_RADIUS
    hop1_radius = HOP1_RADIUS if placed else max(HOP1_RADIUS, len(hop1) * NODE_SPACING * 2 / (2 * math.pi))
    start = 0.0
    centres = {}
    for h, share in zip(circle, shares):
        width = 2 * math.pi * share / total
        centres[h] = (start, width)
        start += width
    first_start, first_width = centres[hop1[0]]
    rotation = facing - (first_start + first_width / 2)
    for h in circle:
        arc_start, width = centres[h]
        angle = rotation + arc_start + width / 2
        positions[h] = (hop1_radius * math.cos(angle), hop1_radius * math.sin(angle))
        kids = children[h]
        for i, kid in enumerate(kids):
            kid_angle = rotation + arc_start + width * (i + 1) / (len(kids) + 1)
            radius = outer + (40.0 if i % 2 else 0.0)
            positions[kid] = (radius * math.cos(kid_angle), radius * math.sin(kid_angle))
    return positions, (outer + 40.0 if placed else hop1_radius)


def _truncate(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _add_node(net: Network, prefix: str, side: str, node: NeighbourhoodNode, x: float, y: float,
              palette: _TypePalette) -> None:
    key = palette.key(node)
    colour = palette.colour(key)
    pair = node.hop == 0
    shown_type = node.type if not node.aligned_type or node.aligned_type == node.type \
        else f"{node.type} (aligned: {node.aligned_type})"
    title = "\n".join([
        node.name or "(no name)",
        f"id: {node.entity_id}",
        f"type: {shown_type}",
        f"hop: {node.hop}" + (" (the pair entity)" if pair else ""),
        f"{side} graph",
    ])
    border = "#1A1A1A" if pair else colour
    net.add_node(
        f"{prefix}:{node.entity_id}", label=_truncate(node.name or node.entity_id), shape=palette.shape(key),
        color={"background": colour, "border": border,
               "highlight": {"background": colour, "border": "#000000"},
               "hover": {"background": colour, "border": "#000000"}},
        title=title, x=round(x, 2), y=round(y, 2), size={0: 28, 1: 16}.get(node.hop, 10),
        borderWidth=5 if pair else 1, borderWidthSelected=6 if pair else 3,
        font={"size": 22 if pair else (16 if node.hop == 1 else 12),
              "color": "#111111" if node.hop < 2 else "#444444"},
        side=side, entity_id=node.entity_id, entity_name=node.name, entity_type=node.type,
        aligned_type=node.aligned_type, hop=node.hop)


def _add_structure_edges(net: Network, prefix: str, side: str, neighbourhood: Neighbourhood,
                         mode: AttentionMode) -> None:
    seen: dict[frozenset, int] = {}  # edges already drawn between two nodes (either direction)
    for e in neighbourhood.edges:
        source, target = f"{prefix}:{e.source_id}", f"{prefix}:{e.target_id}"
        between = frozenset((source, target))
        parallel = seen.get(between, 0)
        seen[between] = parallel + 1
        # a second relation between the same two nodes curves away instead of hiding under the first
        smooth = {"enabled": True, "type": "curvedCW", "roundness": 0.25 * parallel} if parallel else False
        common = dict(label=e.relation, relation=e.relation, hop=e.hop, side=side, smooth=smooth)
        if e.hop == 1:
            value = mode.of(e)
            net.add_edge(source, target, kind="hop1", width=edge_width(value), color=edge_colour(value),
                         title="\n".join([f"{e.relation} (hop 1, top layer)",
                                          f"alpha (cross-graph) = {e.alpha:.4f}",
                                          f"beta (self-attention) = {e.beta:.4f}",
                                          f"w (combined) = {e.weight:.4f}"]),
                         alpha=e.alpha, beta=e.beta, w=e.weight, **common)
        else:
            net.add_edge(source, target, kind="hop2", width=1, color=HOP2_COLOUR,
                         font={"size": 10, "color": "#8A8A8A", "strokeWidth": 2},
                         title=f"{e.relation} (hop 2: averaged by the lower layer, no attention)",
                         alpha=None, beta=None, w=None, **common)


def _add_counterpart_edge(net: Network, prefix: str, other_prefix: str, row) -> None:
    other = "right" if other_prefix == "R" else "left"
    net.add_edge(
        f"{prefix}:{row.entity_id}", f"{other_prefix}:{row.counterpart_id}", kind="counterpart",
        dashes=True, physics=False, width=1.0 + 4.0 * row.alpha, color=COUNTERPART_COLOUR,
        smooth={"enabled": True, "type": "curvedCW", "roundness": 0.15},
        arrows={"to": {"enabled": True, "scaleFactor": 0.35}},
        title="\n".join([f"closest counterpart on the {other}: {row.counterpart_name or row.counterpart_id}",
                         f"of {row.name or row.entity_id} (alpha = {row.alpha:.4f})"]),
        alpha=row.alpha, relation=None, hop=None)


def _render(net: Network, options: dict, height_px: int) -> str:
    """pyvis's template, rendered as ``Network.generate_html`` does but never in link-tooltip mode.

    ``generate_html`` switches to a tooltip that sets titles with ``innerHTML`` whenever a node
    title contains ``href``; entity names are untrusted, so that switch must not depend on them.
    """
    template = net.templateEnv.get_template(net.path)
    return template.render(
        height=f"{height_px}px", width=net.width, nodes=net.nodes, edges=net.edges, heading="",
        options=json.dumps(options), physics_enabled=False, use_DOT=False, dot_lang="", widget=False,
        bgcolor=net.bgcolor, conf=False, tooltip_link=False, neighborhood_highlight=False, select_menu=False,
        filter_menu=False, notebook=False, cdn_resources="in_line")


def _strip_remote(page: str) -> str:
    """Drop the template's remote tags (Bootstrap CSS and JS), its commented-out link and empty headings."""
    page = re.sub(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", "", page, flags=re.IGNORECASE)
    page = re.sub(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>", "", page, flags=re.IGNORECASE)
    page = re.sub(r"<!--\s*<link[^>]*node_modules.*?-->", "", page, flags=re.DOTALL)
    return re.sub(r"<center>\s*<h1>\s*</h1>\s*</center>", "", page)


def _legend(explanation: Explanation, mode: AttentionMode, palette: _TypePalette) -> str:
    esc = html.escape
    chips = []
    for key in palette.present():
        own = palette.own_names[key]
        names = sorted(own["left"] | own["right"])
        detail = "" if names == [key] else " (" + ", ".join(
            f"{side}: {'/'.join(sorted(own[side]))}" for side in ("left", "right") if own[side]) + ")"
        chips.append(f'<span class="chip"><span class="swatch" style="background:{palette.colour(key)}"></span>'
                     f'{esc(key)}{esc(detail)}</span>')
    light, dark = edge_colour(0.0), edge_colour(1.0)
    # the drawing is CG-MuAlign's view: its distance and probability are the GNN's, named so beside
    # the page's match probability (the matcher's, which also weighs names, attributes, structure)
    pair = (f'<b>{esc(explanation.left_id)}</b> (left) ↔ <b>{esc(explanation.right_id)}</b> (right) · '
            f'GNN distance {explanation.distance:.3f}'
            + (f' · GNN probability {explanation.probability:.3f}' if explanation.probability is not None else '')
            + (f' · model {esc(explanation.model_version)}' if explanation.model_version else ''))
    return (
        f'<div id="mualign-legend" aria-label="legend">'
        f'<div>{pair}</div>'
        f'<div><span class="key">Types:</span> {"".join(chips) or "—"}</div>'
        f'<div><span class="key">Edges of the pair:</span> width and colour = {esc(mode.label)} '
        f'(width 1 + 9 × value, <span class="bar" style="background:linear-gradient(90deg,{light},{dark})">'
        f'</span> 0 → 1) · <span class="grey">thin grey</span>: hop 2, averaged, no attention · '
        f'<span class="dash"></span> closest counterpart on the other side (width from α) · '
        f'thick border: the pair</div>'
        f'</div>\n')


def _page_style(height_px: int) -> str:
    """The page's layout: the legend on top, as tall as its lines, and the drawing in the rest.

    The page is exactly ``height_px + LEGEND_HEIGHT_PX`` tall (the app sizes its frame so). The
    legend takes at least :data:`LEGEND_HEIGHT_PX` and grows when a narrow column wraps its
    lines (at 560 px its last line was cut off and needed scrolling); the drawing gives up that
    height, since vis-network sizes its canvas to its container.
    """
    return f"""<style>
  html, body {{ margin: 0; padding: 0; font-family: sans-serif; }}
  body {{ display: flex; flex-direction: column; height: {height_px + LEGEND_HEIGHT_PX}px; overflow: hidden; }}
  #mualign-legend {{ flex: 0 0 auto; min-height: {LEGEND_HEIGHT_PX}px; max-height: 60%; box-sizing: border-box;
    overflow-y: auto; padding: 4px 8px;
    font-size: 12px; line-height: 1.5; color: #222; border-bottom: 1px solid #ddd; background: #fafafa; }}
  #mualign-legend .key {{ font-weight: bold; }}
  #mualign-legend .chip {{ display: inline-block; margin-right: 10px; white-space: nowrap; }}
  #mualign-legend .swatch {{ display: inline-block; width: 11px; height: 11px; border-radius: 50%;
    margin-right: 4px; vertical-align: -1px; border: 1px solid #555; }}
  #mualign-legend .bar {{ display: inline-block; width: 48px; height: 8px; vertical-align: 1px; }}
  #mualign-legend .grey {{ color: #8a8a8a; }}
  #mualign-legend .dash {{ display: inline-block; width: 28px; border-top: 2px dashed {COUNTERPART_COLOUR};
    vertical-align: 3px; }}
  body > .card {{ flex: 1 1 0; min-height: 0; display: flex; flex-direction: column; }}
  #mynetwork {{ box-sizing: border-box; float: none !important; flex: 1 1 0; min-height: 0; height: auto !important; }}
</style>
"""

# vis-network fits the view after a physics stabilisation; with physics off, fit once explicitly
_FIT_SCRIPT = """<script type="text/javascript">
  if (typeof network !== "undefined") { network.fit({animation: false}); }
</script>
"""


def _dataset(page: str, name: str) -> list:
    marker = re.search(rf"\b{name}\s*=\s*new vis\.DataSet\(", page)
    if marker is None:
        raise ValueError(f"no '{name} = new vis.DataSet(...)' in the page: not a render_pair_html drawing")
    data, _ = json.JSONDecoder().raw_decode(page, marker.end())
    return data
