"""The review page's drawing (a pyvis iframe), found the way a user sees it: drawn, and settled.

A rerun of the page (a late widget event, the next pair) replaces the iframe; a handle taken just
before that points to a detached frame, or to none. Tests read the drawing through
:func:`drawing_frame`, which waits until the current iframe holds a drawn network and hands back
that frame, taking it again whenever the one it held was replaced.
"""

from __future__ import annotations

import time

SELECTOR = 'iframe[data-testid="stIFrame"]'


def drawing_frame(page, timeout_ms: int = 30_000):
    """The Playwright frame of the page's first drawing, once vis-network has drawn it."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            handle = page.locator(SELECTOR).first.element_handle(timeout=timeout_ms)
            frame = handle.content_frame() if handle is not None else None
            if frame is not None and frame.evaluate("() => typeof network !== 'undefined' && network !== null"):
                return frame
        except PlaywrightError:
            pass  # the iframe went away while it was read: a rerun is drawing the next one
        if time.monotonic() > deadline:
            raise AssertionError(f"no drawn network in the page's drawing within {timeout_ms} ms")
        page.wait_for_timeout(100)
