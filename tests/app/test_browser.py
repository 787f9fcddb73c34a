"""The analyst's path through the real app, in a real browser.

One ``streamlit run app.py`` server per module, on a freshly built scale-40 demo movie project and a
temporary label database (so the test never touches ``mualign-demo/``), driven by Playwright
through Debian's ``/usr/bin/chromium`` (no ``playwright install``; see ../shared/DEPS.md). The
walk: open the queue, check the drawing against the neighbourhoods the model sampled, decide with
the keyboard (A, U, X), reload and find the labels in the sidebar and in the database, retrain a
new model version, download the DeepMatcher CSV. AppTest (tests/test_app*.py) covers each page
fast; only a browser runs the iframe's JavaScript and the keyboard shortcuts.

Waits are Playwright's own (``expect`` and ``wait_for_function``), bounded, never sleeps: every
decision reruns the script, and the first page load imports torch and loads the model.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.drawing import drawing_frame

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the browser test")

# DEPS.md: what Debian's chromium needs in a container; no network beyond 127.0.0.1
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# tall enough that the review page shows both entity cards, the buttons and the whole drawing
VIEWPORT = {"width": 1400, "height": 1500}
SERVER_START_S = 60
FIRST_LOAD_MS = 90_000  # first run of the review page: imports torch, loads graphs and model
STEP_MS = 30_000  # one rerun after a decision: explain + draw the next pair
TRAIN_MS = 120_000  # retrain on the scale-40 demo, 1 epoch, then rescore every candidate
README_SCREENSHOT = REPO / "docs" / "screenshots" / "review.png"  # MUALIGN_UPDATE_SCREENSHOTS=1 rewrites it
# One torch thread for the demo build and the server. The batches here are tiny, and on a busy
# 2-core machine torch's default (one thread per core) made one scale-40 epoch take 81 s instead
# of 3 s (threads spin waiting for a core that another process holds).
TORCH_THREADS = 1

# The review page's state as the analyst sees it: the pair on the two entity cards, the pair the
# drawing's two centre nodes are, whether its vis-network canvas has pixels, and its node count.
# The iframe is same-origin (components.html uses srcdoc with allow-same-origin).
PAIR_STATE_JS = """
() => {
  const card = (prefix) => {
    for (const c of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
      if (c.innerText.startsWith(prefix)) { const k = c.querySelector('code'); return k ? k.innerText : null; }
    }
    return null;
  };
  const state = {cards: [card('Left · '), card('Right · ')], drawing: null, drawn: false, nodes: null};
  const frame = document.querySelector('iframe[data-testid="stIFrame"]');
  const doc = frame && frame.contentDocument, win = frame && frame.contentWindow;
  const canvas = doc && doc.querySelector('#mynetwork canvas');
  if (!canvas || !win.network || !canvas.width || !canvas.height) return state;
  // core/explanations/drawing.py: every node carries side, entity_id and hop; hop 0 is the pair entity
  const nodes = win.network.body.data.nodes;
  const pair = (side) => nodes.get({filter: (n) => n.hop === 0 && n.side === side}).map((n) => n.entity_id);
  const [left, right] = [pair('left'), pair('right')];
  state.drawing = [left.length === 1 ? left[0] : null, right.length === 1 ? right[0] : null];
  state.nodes = nodes.length;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { state.drawn = true; break; } }
  return state;
}
"""
# true once the cards show a pair other than `previous` (or exactly `expected`) and the drawing
# below them is of that same pair and painted
WAIT_FOR_PAIR_JS = """
([previous, expected]) => {
  const s = (%s)();
  const [left, right] = s.cards;
  if (!left || !right || !s.drawing || !s.drawn) return false;
  if (s.drawing[0] !== left || s.drawing[1] !== right) return false;
  if (previous && left === previous[0] && right === previous[1]) return false;
  if (expected && (left !== expected[0] || right !== expected[1])) return false;
  return s;
}
""" % PAIR_STATE_JS.strip()


SCRIPT_IDLE_JS = """() => document.querySelector('[data-testid="stApp"]')
  ?.getAttribute('data-test-script-state') === 'notRunning'"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    """The scale-40 demo's movie project with a one-epoch model, built as ``mualign demo`` does.

    Only the movie project is blocked and trained (``mualign demo`` also trains the music one,
    which doubles the time and is not used here).
    """
    import torch

    from core.demo.writing import write_demo
    from core.project.lifecycle import run_baselines, run_model, score_candidates
    from core.training.loop import TrainConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        project = write_demo(tmp_path_factory.mktemp("demo"), scale=40, seed=0)["movies"]
        built = run_baselines(project)
        trained = run_model(project, built.dataset, built.candidates, TrainConfig(epochs=1, seed=0))
        score_candidates(project, built.dataset, built.candidates, trained.scorer, trained.version)
    finally:
        torch.set_num_threads(threads)
    assert (project / "models" / "ACTIVE").is_file(), f"no active model in {project}"
    return project


@contextmanager
def streamlit_server(project: Path, work: Path, *, port: int | None = None, user_header: str | None = None):
    """The app served for ``project`` as ``mualign review`` serves it (``cli.server.streamlit_command``:
    the repository's settings, the Host allowlist, 127.0.0.1) with a fresh label db in ``work``;
    yields (url, db_url).

    ``port``: a given port (to restart a server where a browser tab still points), else a free one.
    The log goes to a file, not a PIPE (a full pipe would block the server); it is printed at
    the end, which pytest shows when the module failed. The server runs in its own process
    group, killed as a whole at the end (streamlit takes more than a second to exit on SIGTERM).
    """
    from cli.server import streamlit_command

    db_url = f"sqlite:///{work / 'labels.sqlite'}"
    log_path = work / "streamlit.log"
    port = port or _free_port()
    command = streamlit_command(project, port=port, db=db_url, user_header=user_header)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUALIGN_", "STREAMLIT_"))}
    env["OMP_NUM_THREADS"] = str(TORCH_THREADS)
    with open(log_path, "a") as log:
        process = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with code {process.returncode} before it was healthy:\n"
                            f"{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after {SERVER_START_S} s:\n{log_path.read_text()}")
            time.sleep(0.2)  # polling a socket, not waiting for the page
        yield url, db_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        print(f"---- streamlit log ({log_path}) ----\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def server(demo_project, tmp_path_factory):
    """A server on the demo project and a fresh label db; yields (url, db_url)."""
    with streamlit_server(demo_project, tmp_path_factory.mktemp("server")) as served:
        yield served


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(STEP_MS)
        try:
            yield context.pages[0]
        finally:
            context.close()


def _wait_for_pair(page, *, previous=None, expected=None, timeout=STEP_MS) -> dict:
    """The page's state once it shows (and has drawn) a new pair, or exactly ``expected``."""
    handle = page.wait_for_function(WAIT_FOR_PAIR_JS, arg=[previous, expected], timeout=timeout, polling=100)
    state = handle.json_value()
    return {**state, "pair": tuple(state["cards"])}


def _wait_until_idle(page) -> None:
    page.wait_for_function(SCRIPT_IDLE_JS, timeout=STEP_MS, polling=100)


def _press(page, key: str) -> None:
    """A keyboard shortcut as an analyst types it: nothing focused, so the key reaches the app.

    First wait until the page's script run has finished (Streamlit's own e2e tests read
    ``stApp``'s ``data-test-script-state``): the drawing is on screen before the run ends (the
    evidence tables and the sidebar come after it), and a key pressed during a run is decided
    with the pair context that run has registered on the buttons, which may be a pair the page
    does not show yet (the buttons' widget ids do not depend on the pair).
    """
    _wait_until_idle(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    assert page.evaluate("() => document.activeElement === document.body"), "focus is not on the page body"
    page.keyboard.press(key)


def _drawing_frame(page):
    return drawing_frame(page, STEP_MS)


def _neighbourhoods(project: Path, pair: tuple[str, str]):
    """Both sampled neighbourhoods of ``pair`` as core computes them for the active model."""
    from core.project.checkpoint import load_scorer
    from core.explanations.attention import explain_pair
    from core.project.model_versions import active_model_path
    from core.formats.native import load_project

    dataset = load_project(project)
    scorer, _ = load_scorer(active_model_path(project), dataset)
    (left,), (right,) = dataset.left.indices_of([pair[0]]), dataset.right.indices_of([pair[1]])
    explanation = explain_pair(scorer, int(left), int(right))
    return explanation.left_neighbourhood, explanation.right_neighbourhood


def _current_labels(db_url: str, project: str) -> tuple[dict, list]:
    """({pair: current decision}, the event log oldest first) read through ``db``."""
    from db import current_labels, events, make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            labels = {(label.left_id, label.right_id): label.decision.value
                      for label in current_labels(session, project=project)}
            log = [(e.decision.value, e.left_id, e.right_id) for e in reversed(events(session, project=project))]
    finally:
        engine.dispose()
    return labels, log


def _go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()


def test_analyst_reviews_retrains_and_exports(server, browser_page, demo_project, tmp_path):
    from playwright.sync_api import expect

    url, db_url = server
    page = browser_page
    project = demo_project.name  # the app's project key: the directory's name

    # 1. the queue opens on a pair, drawn
    page.goto(f"{url}/?analyst=ana")  # the name the decisions are stored under (kept on reload)
    expect(page.get_by_role("heading", name="Review candidate pairs")).to_be_visible(timeout=FIRST_LOAD_MS)
    first = _wait_for_pair(page, timeout=FIRST_LOAD_MS)
    _wait_until_idle(page)  # the whole page, sidebar included, for the screenshot
    page.screenshot(path=tmp_path / "1-review.png")
    if os.environ.get("MUALIGN_UPDATE_SCREENSHOTS"):  # refresh the README's picture on request only,
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)  # so a test run leaves the checkout clean
        shutil.copyfile(tmp_path / "1-review.png", README_SCREENSHOT)

    # the drawing shows the pair and the hop-1 neighbours the model sampled for it (hop 2 is one
    # click away: tests/app/test_browser_review.py)
    left_hood, right_hood = _neighbourhoods(demo_project, first["pair"])
    hop1 = ({f"L:{n.entity_id}" for n in left_hood.nodes if n.hop <= 1}
            | {f"R:{n.entity_id}" for n in right_hood.nodes if n.hop <= 1})
    assert first["nodes"] == len(hop1)
    drawn_ids = set(_drawing_frame(page).evaluate("network.body.data.nodes.getIds()"))
    assert drawn_ids == hop1

    # 2. keyboard: A accepts and moves on; A again; U brings the last one back; X rejects it
    _press(page, "a")
    second = _wait_for_pair(page, previous=first["pair"])
    _press(page, "a")
    third = _wait_for_pair(page, previous=second["pair"])
    assert third["pair"] not in (first["pair"], second["pair"])
    _press(page, "u")
    _wait_for_pair(page, expected=second["pair"])
    expect(page.get_by_test_id("stToast").filter(has_text="undone: accept")).to_be_visible()
    _press(page, "x")
    _wait_for_pair(page, previous=second["pair"])

    # 3. reload: a new session; the labels come from the store
    page.reload()
    after_reload = _wait_for_pair(page, timeout=FIRST_LOAD_MS)
    assert after_reload["pair"] not in (first["pair"], second["pair"])  # decided pairs leave the queue
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Progress: 2 decided")
    for pair, decision in ((first["pair"], "accept"), (second["pair"], "reject")):
        # one selectbox per recent decision, labelled with the pair, showing its current label
        expect(sidebar.get_by_role("combobox", name=f"{pair[0]} ↔ {pair[1]}", exact=True)).to_have_value(decision)
    _wait_until_idle(page)
    page.screenshot(path=tmp_path / "2-after-reload.png")
    labels, log = _current_labels(db_url, project)
    assert labels == {first["pair"]: "accept", second["pair"]: "reject"}
    assert log == [("accept", *first["pair"]), ("accept", *second["pair"]), ("undo", *second["pair"]),
                   ("reject", *second["pair"])]

    # 4. retrain one epoch: a new version is stored; it becomes active at once only when it is
    #    better on the validation pairs, otherwise the analyst makes it active by hand
    active_file = demo_project / "models" / "ACTIVE"
    before = active_file.read_text().strip()
    _go_to(page, "Retrain")
    expect(page.get_by_role("heading", name="Retrain the model")).to_be_visible()
    expect(page.get_by_text("1 accepted").first).to_be_visible()
    epochs = page.get_by_label("Epochs (at most; early stopping on validation PRAUC)")
    epochs.fill("1")
    epochs.press("Tab")  # commit the number before submitting
    page.get_by_role("button", name="Train a new version").click()
    outcome = page.get_by_text(re.compile(r"New model version \S+ is (active|stored but not active)"))
    expect(outcome).to_be_visible(timeout=TRAIN_MS)
    message = outcome.inner_text()
    version = re.search(r"New model version (\S+) is", message).group(1)
    assert version != before
    if "is active" in message:
        assert active_file.read_text().strip() == version
    else:  # not better: the previous version stays active until the analyst chooses
        assert active_file.read_text().strip() == before
        page.get_by_role("button", name=f"Make {version} active").click()
        expect(page.get_by_text(re.compile(rf"Active model:\s*{version}"))).to_be_visible(timeout=FIRST_LOAD_MS)
        assert active_file.read_text().strip() == version
    expect(page.get_by_text("Validation split, before and after")).to_be_visible()
    page.screenshot(path=tmp_path / "3-retrained.png")

    # 5. export: the DeepMatcher CSV holds the accepted pair (and not the rejected one)
    _go_to(page, "Export")
    expect(page.get_by_role("heading", name="Export")).to_be_visible()
    expect(page.get_by_text("1 accepted").first).to_be_visible()
    button = page.get_by_test_id("stDownloadButton").filter(has_text="DeepMatcher CSV").locator("button")
    expect(button).to_be_enabled()
    page.screenshot(path=tmp_path / "4-export.png")
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == f"{project}-links.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0] == ["ltable_id", "rtable_id", "label"]
    assert rows[1:] == [[*first["pair"], "1"]]  # demo ids carry no "type:" prefix to strip
