"""Hostile data and two analysts at once, in a real browser on a real ``streamlit run`` server.

The project is the tiny movie pair of ``conftest.py`` with every entity name and attribute value
carrying script payloads (``<script>``, ``<img onerror>``, ``"'><svg onload>``, a Markdown link to
``javascript:``), one 10,000-character name and one 10,000-character value, blocked and scored
by a one-epoch model so the review page draws the neighbourhoods. One payload,
``<img src=x onerror="window.top.__pwned=1">``, would leave a marker on the top window if it ever
ran, wherever it ran (page or drawing iframe); every dialog fails the test.

1. One analyst walks the review queue, hovers the drawing's nodes, searches and opens the
   agreement page: no script runs, no element is made from the data, and the payloads read as
   literal text in the entity cards, the attribute tables, the drawing's data and tooltip.
2. Two analysts (two browser contexts, so two Streamlit sessions; one analyst's name is itself
   a payload) label the same project at the same time: every decision of both is in the store,
   and the pair they judged differently is in the agreement page's conflict queue, with both
   names and who said what, until one of them settles it.
3. Every page, with a project directory whose name holds a backtick, a Markdown image and a link
   to a remote host, and names and values holding URLs: the name reads literally, nothing from
   the data becomes a link or an image, and no request leaves 127.0.0.1 (every request of every
   page is watched, and the tab's icon must be the server's or inline, never a font CDN's).

Waits are Playwright's own (``expect``, ``wait_for_function``), never sleeps.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import write_tiny_project
from tests.support.drawing import drawing_frame
from tests.app.test_browser import CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE_JS, WAIT_FOR_PAIR_JS, streamlit_server

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install -y chromium)")

MARKER = '<img src=x onerror="window.top.__pwned=1">'
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"'><svg onload=alert(1)>", MARKER)
HOSTILE = " ".join(PAYLOADS)
MARKDOWN = "**bold** [click](javascript:alert(1)) $x$"
# 203.0.113.0/24 is TEST-NET-3: nothing answers there, and the request monitor sees any attempt
URLS = "http://203.0.113.9/page www.example.org bob@example.org ![i](https://203.0.113.9/i.png) <https://203.0.113.9/a>"
NAMED = f"{MARKDOWN} {URLS} {HOSTILE}"  # every name but the long one ends with this
# A directory name cannot hold "/": "https:HOST" is a URL to HOST all the same from an http page.
PROJECT_NAME = "hostile `x` ![i](https:203.0.113.9) [site](https:203.0.113.9) ``"
LONG_NAME = "Carrie-Anne Moss " + "y" * 10_000
LONG_VALUE = "x" * 10_000
HOSTILE_ANALYST = "bob \"'><svg onload=alert(1)>"

VIEWPORT = {"width": 1400, "height": 1500}
FIRST_LOAD_MS = 120_000  # the first review run imports torch and loads the model
STEP_MS = 45_000  # one rerun on a busy 2-core machine

# Elements the data must never create, in the page or in the drawing.
INJECTED_JS = """() => document.querySelectorAll('[onerror], [onload], svg[onload], img[src="x"], a[href^="javascript"]')
  .length"""
# Links and images that lead off the server (Streamlit's own heading anchors are "#..." on the page)
FOREIGN_ELEMENTS_JS = """() => [...document.querySelectorAll('a[href], img[src], image, link[href], script[src], iframe[src]')]
  .map((e) => e.href?.baseVal ?? e.href ?? e.src)
  .filter((u) => u && !u.startsWith(location.origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')
                 && !u.startsWith('about:'))"""
FAVICON_JS = """() => [...document.querySelectorAll("link[rel~='icon']")].map((l) => l.href)"""


def _entities(rows, header: str) -> str:
    return header + "".join("\t".join(row) + "\n" for row in rows)


LEFT = _entities([
    ("f1", "film", f"The Matrix {NAMED}", "1999", "", NAMED),
    ("f2", "film", f"Matrix Reloaded {NAMED}", "2003", "", LONG_VALUE),
    ("f3", "film", f"Speed {NAMED}", "1994", "", MARKDOWN),
    ("p1", "person", f"Keanu Reeves {NAMED}", "", "1964-09-02", HOSTILE),
    ("p2", "person", LONG_NAME, "", "1967-08-21", HOSTILE),
    ("p3", "person", f"Aditya Raj {NAMED}", "", "", MARKDOWN),
], "id\ttype\tname\tyear:number\tborn:date\tnote:text\n")
RIGHT = _entities([
    ("m10", "movie", f"Matrix {NAMED}", "1999", HOSTILE),
    ("m11", "movie", f"The Matrix Reloaded {NAMED}", "2003", MARKDOWN),
    ("m12", "movie", f"Speed {NAMED}", "1994", HOSTILE),
    ("q10", "person", f"Keanu Reeves {NAMED}", "", MARKDOWN),
    ("q11", "person", f"Carrie Anne Moss {NAMED}", "", HOSTILE),
    ("q12", "person", f"Aditya Raj Kapoor {NAMED}", "", MARKDOWN),
], "id\ttype\tname\tyear:number\tnote:text\n")


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory) -> Path:
    """The tiny project with hostile names and values, blocked, with a one-epoch model and scores."""
    import torch

    from core.project.lifecycle import run_baselines, run_model, score_candidates
    from core.training.loop import TrainConfig

    project = write_tiny_project(tmp_path_factory.mktemp("hostile") / PROJECT_NAME,
                                 **{"left/entities.tsv": LEFT, "right/entities.tsv": RIGHT})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches; more threads only spin on a busy machine
    try:
        built = run_baselines(project, methods=())
        trained = run_model(project, built.dataset, built.candidates, TrainConfig(epochs=1, seed=0))
        score_candidates(project, built.dataset, built.candidates, trained.scorer, trained.version)
    finally:
        torch.set_num_threads(threads)
    return project


@pytest.fixture(scope="module")
def server(hostile_project, tmp_path_factory):
    with streamlit_server(hostile_project, tmp_path_factory.mktemp("hostile-server")) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Analyst:
    """One browser context (its own cookies, so its own Streamlit session) and the dialogs it met."""

    def __init__(self, browser, url: str, name: str):
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(STEP_MS)
        self.foreign_requests: list[str] = []
        self.context.route(_leaves_the_server, self._refuse)  # the page and every frame in it
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.url, self.name = url, name

    def _refuse(self, route) -> None:
        self.foreign_requests.append(route.request.url)
        route.abort()

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open_review(self) -> None:
        from playwright.sync_api import expect

        self.page.goto(self.url)
        expect(self.page.get_by_role("heading", name="Review candidate pairs")).to_be_visible(timeout=FIRST_LOAD_MS)
        self.wait_for_pair(timeout=FIRST_LOAD_MS)
        box = self.page.get_by_test_id("stSidebar").get_by_role("textbox", name="Analyst")
        box.fill(self.name)
        box.press("Enter")
        self.idle()
        expect(box).to_have_value(self.name)

    def idle(self) -> None:
        self.page.wait_for_function(SCRIPT_IDLE_JS, timeout=STEP_MS, polling=100)

    def wait_for_pair(self, previous=None, timeout=STEP_MS) -> tuple[str, str]:
        handle = self.page.wait_for_function(WAIT_FOR_PAIR_JS, arg=[previous, None], timeout=timeout, polling=100)
        return tuple(handle.json_value()["cards"])

    def shown_pair(self) -> tuple[str, str]:
        return self.wait_for_pair()

    def click(self, label: str) -> None:
        self.page.get_by_role("button", name=re.compile(rf"^{label}\b")).click()

    def go_to(self, title: str) -> None:
        self.page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()

    def frame(self):
        return drawing_frame(self.page, STEP_MS)  # as drawn: a rerun may be replacing it

    def assert_nothing_ran(self) -> None:
        assert self.dialogs == [], f"a payload opened a dialog: {self.dialogs}"
        assert self.page.evaluate("() => window.__pwned") is None, "a payload ran in the page"
        assert self.page.evaluate(INJECTED_JS) == 0, "the data made an element in the page"
        assert self.foreign_requests == [], f"requests left 127.0.0.1: {self.foreign_requests}"
        assert self.page.evaluate(FOREIGN_ELEMENTS_JS) == [], "links or images lead off the server"
        icons = self.page.evaluate(FAVICON_JS)
        assert icons and all(_local(icon) for icon in icons), f"the tab's icon is not the server's: {icons}"

    def close(self) -> None:
        self.context.close()


def _local(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:", "ws://127.0.0.1:"))


def _leaves_the_server(url: str) -> bool:
    return not _local(url)


def _dataset(project: Path):
    from core.formats.native import load_project

    return load_project(project)


def _names(project: Path) -> dict[str, str]:
    dataset = _dataset(project)
    return {**dict(zip(dataset.left.entity_ids, dataset.left.names)),
            **dict(zip(dataset.right.entity_ids, dataset.right.names))}


def _check_cards(analyst: Analyst, pair: tuple[str, str], project: Path) -> None:
    """The two entity cards show the names and values exactly as the files hold them, as text."""
    from core.review.entity_card import entity_card
    from ui.plain_text import shorten
    from ui.review_widgets import NAME_CHARS, VALUE_CHARS

    dataset = _dataset(project)
    headings = analyst.page.get_by_test_id("stMain").locator("h3")
    cards = []
    for kg, entity_id in ((dataset.left, pair[0]), (dataset.right, pair[1])):
        (index,) = kg.indices_of([entity_id])
        cards.append(entity_card(kg, int(index)))
    assert [h.inner_text() for h in headings.all()][:2] == [shorten(c.name, NAME_CHARS) for c in cards]
    cells = analyst.page.locator('[data-testid="stTable"] td').all_inner_texts()
    for card in cards:
        for _, value in card.attributes:
            if value:
                assert shorten(value, VALUE_CHARS) in cells, f"{value[:60]!r} not shown literally"


def _check_drawing(analyst: Analyst, pair: tuple[str, str], names: dict[str, str]) -> None:
    """Node data carries the names unchanged; the hover tooltip shows the name as text, nothing else.

    A late rerun may swap the drawing's iframe while it is read ("Frame was detached"): the
    checks then start again on the new drawing, at most three times.
    """
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(3):
        analyst.idle()
        try:
            _check_one_drawing(analyst, analyst.frame(), pair, names)
            return
        except PlaywrightError as error:
            if not ("detached" in str(error) or "destroyed" in str(error)) or attempt == 2:
                raise


def _check_one_drawing(analyst: Analyst, frame, pair: tuple[str, str], names: dict[str, str]) -> None:
    assert frame.evaluate(INJECTED_JS) == 0, "the data made an element in the drawing"
    assert frame.evaluate("() => window.__pwned") is None
    nodes = frame.evaluate("() => network.body.data.nodes.get()")
    for node in nodes:
        assert node["title"].splitlines()[0] == (names[node["entity_id"]] or "(no name)")
        assert isinstance(node["label"], str) and "\n" not in node["label"]
    # hover the left pair entity: vis-network shows its title in a tooltip div, as text
    iframe = analyst.page.locator('iframe[data-testid="stIFrame"]').first
    iframe.scroll_into_view_if_needed()
    box = iframe.bounding_box()
    node_id = f"L:{pair[0]}"
    x, y = frame.evaluate("""(id) => {
        const p = network.canvasToDOM(network.getPositions([id])[id]);
        const r = document.getElementById('mynetwork').getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }""", node_id)
    analyst.page.mouse.move(box["x"] + x, box["y"] + y)
    tooltip = frame.wait_for_function("""() => {
        const t = document.querySelector('.vis-tooltip');
        // vis-network sets a string title with innerText, which turns each newline into a <br>
        const made = t ? [...t.querySelectorAll('*')].filter((e) => e.tagName !== 'BR').length : 0;
        return t && t.style.visibility === 'visible' && t.innerText ? {text: t.innerText, elements: made} : false;
    }""", timeout=STEP_MS, polling=100).json_value()
    assert tooltip["elements"] == 0, "the tooltip holds elements made from the data"
    assert tooltip["text"].splitlines()[0] == names[pair[0]]
    analyst.page.mouse.move(1, 1)


def _label_events(db_url: str, project: str) -> list:
    from db import events, make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            return events(session, project=project)[::-1]
    finally:
        engine.dispose()


def test_hostile_names_and_values_stay_text_everywhere(server, browser, hostile_project, tmp_path):
    from playwright.sync_api import expect

    url, db_url = server
    names = _names(hostile_project)
    walker = Analyst(browser, url, "walker")
    try:
        walker.open_review()
        pair = walker.shown_pair()
        for step in range(3):  # three pairs; the others are left for the two analysts' test
            _check_cards(walker, pair, hostile_project)
            _check_drawing(walker, pair, names)
            walker.assert_nothing_ran()
            if step == 0:
                walker.page.screenshot(path=tmp_path / "hostile-review.png")
            walker.idle()
            walker.click("Skip")
            pair = walker.wait_for_pair(previous=list(pair))
        body = walker.page.inner_text("body")
        for payload in PAYLOADS:
            assert payload in body, f"{payload!r} is not on the page as text"

        # the search page: names in the results, and a payload typed as the query
        walker.go_to("Find a pair")
        query = walker.page.get_by_label("Entity name or id")
        query.fill("Matrix")
        query.press("Enter")
        entity = walker.page.get_by_role("combobox", name="Entity")
        expect(entity).to_be_visible()
        walker.idle()
        shown = entity.evaluate("(e) => e.value ?? e.innerText")
        assert any(shown.startswith(f"{name} · ") for name in names.values()), shown  # a name, verbatim
        walker.assert_nothing_ran()
        query.fill(MARKER)
        query.press("Enter")
        walker.idle()
        walker.assert_nothing_ran()
        walker.page.screenshot(path=tmp_path / "hostile-search.png")

        # the agreement page lists walker's skips; nothing from the data runs there either
        walker.go_to("Agreement")
        expect(walker.page.get_by_role("heading", name="Agreement between analysts")).to_be_visible()
        walker.idle()
        walker.assert_nothing_ran()
    finally:
        walker.close()


def test_two_analysts_label_at_once_and_their_disagreement_is_a_conflict(server, browser, hostile_project, tmp_path):
    from playwright.sync_api import expect

    from core.review.agreement import conflicts, log_entries

    url, db_url = server
    project = hostile_project.name
    names = _names(hostile_project)
    ana, bob = Analyst(browser, url, "ana"), Analyst(browser, url, HOSTILE_ANALYST)
    try:
        ana.open_review()
        bob.open_review()
        done: dict[str, list[tuple[tuple[str, str], str]]] = {ana.name: [], bob.name: []}
        # both press at once, three times (each on the pair the team queue reserved for them)
        rounds = (("Accept", "Reject"), ("Reject", "Reject"), ("Accept", "Skip"))
        for ana_button, bob_button in rounds:
            ana_pair, bob_pair = ana.shown_pair(), bob.shown_pair()
            ana.idle()
            bob.idle()
            ana.click(ana_button)  # both clicks are sent before either rerun has finished
            bob.click(bob_button)
            done[ana.name].append((ana_pair, ana_button.lower()))
            done[bob.name].append((bob_pair, bob_button.lower()))
            ana.wait_for_pair(previous=list(ana_pair))
            bob.wait_for_pair(previous=list(bob_pair))
        first = done[ana.name][0][0]
        # team queues (issue 16): analysts working one queue at once are shown different pairs
        assert all(a != b for (a, _), (b, _) in zip(done[ana.name], done[bob.name]))
        # bob opens ana's first pair anyway (as from Find a pair) and rejects it: a disagreement
        from db import make_engine, make_sessionmaker, record_decision

        (first_type,) = {e.type for e in _label_events(db_url, project) if (e.left_id, e.right_id) == first}
        engine = make_engine(db_url)
        try:
            with make_sessionmaker(engine).begin() as session:
                record_decision(session, project=project, left_id=first[0], right_id=first[1], type=first_type,
                                decision="reject", analyst=bob.name)
        finally:
            engine.dispose()
        done[bob.name].append((first, "reject"))

        # every decision of both is in the store, in the order each made them
        stored = _label_events(db_url, project)
        for analyst in (ana.name, bob.name):
            mine = [((e.left_id, e.right_id), e.decision.value) for e in stored
                    if e.analyst == analyst and not e.resolution]
            assert mine == done[analyst]

        # the agreement page: bob's rejection against ana's acceptance is an open conflict
        expected = [(c.left_id, c.right_id) for c in conflicts(log_entries(stored))]
        assert first in expected
        ana.go_to("Agreement")
        expect(ana.page.get_by_role("heading", name="Conflict queue")).to_be_visible()
        ana.idle()
        expect(ana.page.get_by_test_id("stSidebar").get_by_role("textbox", name="Analyst")).to_have_value(ana.name)
        cards = ana.page.locator('[class*="st-key-conflict-"]')  # the conflict queue's bordered boxes
        expect(cards).to_have_count(len(expected))
        card = cards.filter(has_text=f"{first[0]}").filter(has_text=f"{first[1]}")
        expect(card).to_have_count(1)
        text = card.inner_text()
        assert names[first[0]][:40] in text and names[first[1]][:40] in text  # both names, literally
        assert f"ana: accept · {HOSTILE_ANALYST}: reject" in text
        ana.page.screenshot(path=tmp_path / "agreement.png")
        ana.assert_nothing_ran()

        # ana settles it: a resolution event, and the conflict leaves the queue
        card.get_by_role("button", name="Settle: accept").click()
        expect(cards).to_have_count(len(expected) - 1)
        expect(ana.page.get_by_text(re.compile(r"Settled conflicts \(1\)"))).to_be_visible()
        last = _label_events(db_url, project)[-1]
        assert ((last.left_id, last.right_id), last.decision.value, last.analyst, last.resolution) == (
            first, "accept", "ana", True)
        ana.assert_nothing_ran()
        bob.assert_nothing_ran()
    finally:
        ana.close()
        bob.close()


PAGES = {"Review": "Review candidate pairs", "Find a pair": "Find a pair", "Conflicts": "Conflict clusters",
         "Bulk accept": "Bulk accept with a check", "Agreement": "Agreement between analysts",
         "Retrain": "Retrain the model", "Evaluation": "Evaluation", "Export": "Export",
         "Project overview": "mualign: project overview"}


def test_every_page_shows_data_and_paths_as_text_and_loads_nothing_from_elsewhere(server, browser, hostile_project,
                                                                                tmp_path):
    from playwright.sync_api import expect

    url, _ = server
    visitor = Analyst(browser, url, "visitor https://203.0.113.9/x ![i](https://203.0.113.9/i.png)")
    try:
        visitor.open_review()
        visitor.assert_nothing_ran()
        for title, heading in PAGES.items():
            visitor.go_to(title)
            expect(visitor.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            visitor.idle()
            visitor.assert_nothing_ran()
            main = visitor.page.get_by_test_id("stMain").inner_text()
            if title == "Project overview":
                assert f"Project directory: {hostile_project}" in main
            if title == "Export":
                assert f"({PROJECT_NAME})" in main
            visitor.page.screenshot(path=tmp_path / f"page-{title}.png")
        # the analyst's name went into the page address: still only text, and it came back intact
        expect(visitor.page.get_by_test_id("stSidebar").get_by_role("textbox", name="Analyst")).to_have_value(
            visitor.name)
        visitor.page.reload()
        expect(visitor.page.get_by_role("heading", name="mualign: project overview")).to_be_visible(
            timeout=FIRST_LOAD_MS)
        visitor.idle()
        expect(visitor.page.get_by_test_id("stSidebar").get_by_role("textbox", name="Analyst")).to_have_value(
            visitor.name)
        visitor.assert_nothing_ran()
    finally:
        visitor.close()
