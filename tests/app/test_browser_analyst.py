"""Who labels, in a real browser on a real server (issue 13, items 1 and 2).

A fresh server whose first request is a deep link shows the app's own navigation and Analyst box
(not Streamlit's automatic list of files); labelling waits for a name; the name typed once is the
one stored after a page switch through *Find a pair*, after a reload, and after a server restart
with the tab on a deep link; the operating-system login never appears. Behind ``--user-header``
the proxy's header names the analyst and the address cannot. The tiny project (no model) keeps
each page run short.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.app.test_browser import CHROMIUM, CHROMIUM_ARGS, SCRIPT_IDLE_JS, _free_port, streamlit_server
from tests.conftest import write_tiny_project
from tests.support.signing_proxy import signing_proxy

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install -y chromium)")

APP_PAGES = ["Review", "Find a pair", "Conflicts", "Bulk accept", "Agreement", "Retrain", "Evaluation", "Export",
             "Project overview"]
FIRST_LOAD_MS = 90_000
STEP_MS = 45_000  # one rerun on a busy 2-core machine


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _blocked_tiny_project(directory):
    """The tiny project as ``mualign import`` then ``mualign block`` leave it (the app never blocks)."""
    from core.project.lifecycle import block_project

    project = write_tiny_project(directory)
    block_project(project)
    return project


def _page(browser, **options):
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, **options)
    context.set_default_timeout(STEP_MS)
    return context.new_page()


def _idle(page, timeout=STEP_MS) -> None:
    page.wait_for_function(SCRIPT_IDLE_JS, timeout=timeout, polling=100)


def _navigation(page) -> list[str]:
    """The page titles in the sidebar, without their emoji icons."""
    return [text.split("\n")[-1].strip() for text in page.get_by_test_id("stSidebarNavLink").all_inner_texts()]


def _box(page):
    return page.get_by_test_id("stSidebar").get_by_role("textbox", name="Analyst")


def _go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=re.compile(rf"^\W*{re.escape(title)}$")).click()
    _idle(page)


def _accept(page):
    return page.get_by_role("button", name=re.compile(r"^Accept"))


def _events(db_url: str, project: str) -> list[tuple]:
    from db import events, make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            return [(e.left_id, e.right_id, e.decision.value, e.analyst) for e in events(session, project=project)[::-1]]
    finally:
        engine.dispose()


def _wait_for_events(page, db_url: str, project: str, count: int) -> list[tuple]:
    """The label log once it holds ``count`` events (a click's rerun writes, then draws the next pair).

    Polled: right after a click the script may not have started its rerun yet, so one look at an
    idle page can come before the write. More than ``count`` events is a failure at once.
    """
    deadline = time.monotonic() + STEP_MS / 1000
    while True:
        _idle(page)
        logged = _events(db_url, project)
        if len(logged) >= count or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert len(logged) == count, logged
    return logged


def _cold_start_on(page, url: str, path: str, heading: str) -> None:
    """The server's first request: the app's pages and the Analyst box, not Streamlit's list of files."""
    from playwright.sync_api import expect

    page.goto(f"{url}{path}")
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=FIRST_LOAD_MS)
    _idle(page, FIRST_LOAD_MS)
    assert _navigation(page) == APP_PAGES
    expect(_box(page)).to_be_visible()


def test_analyst_name_after_a_page_switch_a_reload_and_a_server_restart_on_a_deep_link(browser, tmp_path):
    from playwright.sync_api import expect

    project = _blocked_tiny_project(tmp_path / "tiny")
    work = tmp_path / "server"
    work.mkdir()
    port = _free_port()
    page = _page(browser)
    with streamlit_server(project, work, port=port) as (url, db_url):
        _cold_start_on(page, url, "/agreement", "Agreement between analysts")
        expect(_box(page)).to_have_value("")

        # no name: a prompt, and nothing can be labelled
        _go_to(page, "Review")
        expect(page.get_by_text("Type your name in the Analyst box")).to_be_visible()
        expect(_accept(page)).to_be_disabled()

        _box(page).fill("bob")
        _box(page).press("Enter")
        _idle(page)
        expect(page).to_have_url(re.compile(r"[?&]analyst=bob\b"))
        expect(_accept(page)).to_be_enabled()

        # a page switch, a search, "Review this pair": still bob
        _go_to(page, "Find a pair")
        expect(_box(page)).to_have_value("bob")
        query = page.get_by_label("Entity name or id")
        query.fill("Keanu Reevs")
        query.press("Enter")
        _idle(page)
        page.get_by_role("button", name="Review this pair").click()
        expect(page.get_by_role("heading", name="Review candidate pairs")).to_be_visible()
        _idle(page)
        expect(_box(page)).to_have_value("bob")
        expect(page).to_have_url(re.compile(r"[?&]analyst=bob\b"))
        _accept(page).click()
        assert _wait_for_events(page, db_url, project.name, 1) == [("p1", "q10", "accept", "bob")]

        # a reload is a new session: the name comes back from the address
        page.reload()
        expect(page.get_by_role("heading", name="Review candidate pairs")).to_be_visible(timeout=FIRST_LOAD_MS)
        _idle(page)
        expect(_box(page)).to_have_value("bob")
        _go_to(page, "Agreement")
        expect(page).to_have_url(re.compile(r"/agreement\?analyst=bob$"))

    # the server restarts where the tab points; the tab is reloaded on /agreement?analyst=bob
    with streamlit_server(project, work, port=port) as (url, db_url):
        page.reload()
        expect(page.get_by_role("heading", name="Agreement between analysts")).to_be_visible(timeout=FIRST_LOAD_MS)
        _idle(page, FIRST_LOAD_MS)
        assert _navigation(page) == APP_PAGES
        expect(_box(page)).to_have_value("bob")
        _go_to(page, "Review")
        expect(_accept(page)).to_be_enabled()
        _accept(page).click()
        logged = _wait_for_events(page, db_url, project.name, 2)
    assert [analyst for *_, analyst in logged] == ["bob", "bob"]
    page.context.close()


def test_behind_a_proxy_the_header_names_the_analyst(browser, tmp_path):
    from playwright.sync_api import expect

    project = _blocked_tiny_project(tmp_path / "tiny")
    work = tmp_path / "server"
    work.mkdir()
    with streamlit_server(project, work, user_header="X-Forwarded-User") as (url, db_url), \
            signing_proxy(int(url.rsplit(":", 1)[1]), "X-Forwarded-User", "dora") as proxy:
        # the browser's own header is dropped by the proxy, and the address cannot claim a name
        page = _page(browser, extra_http_headers={"X-Forwarded-User": "mallory"})
        page.goto(f"{proxy}/?analyst=mallory")
        expect(page.get_by_role("heading", name="Review candidate pairs")).to_be_visible(timeout=FIRST_LOAD_MS)
        _idle(page, FIRST_LOAD_MS)
        expect(_box(page)).to_have_value("dora")
        expect(_box(page)).to_be_disabled()
        _accept(page).click()
        assert [analyst for *_, analyst in _wait_for_events(page, db_url, project.name, 1)] == ["dora"]
        page.context.close()

        # the same server reached without the proxy's header: nobody, so nothing is labelled
        page = _page(browser)
        page.goto(f"{url}/?analyst=mallory")
        expect(page.get_by_role("heading", name="Review candidate pairs")).to_be_visible(timeout=FIRST_LOAD_MS)
        _idle(page)
        expect(_box(page)).to_have_value("")
        expect(_accept(page)).to_be_disabled()
        page.context.close()
