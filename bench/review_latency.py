"""Review-app latency: from pressing A (accept) until the next pair's drawing is on screen.

    python bench/review_latency.py                                  # mualign-demo/movies, 20 presses
    python bench/review_latency.py --project /tmp/demo300/movies -n 30
    python bench/review_latency.py --scale 300                      # build a temporary demo first
    python bench/review_latency.py --viewport 1400x1500             # another window size (default 1280x720)

Starts ``streamlit run app.py`` on the project with a fresh temporary label database (the
project's own labels are not touched), opens the review page in Debian's /usr/bin/chromium
(Playwright), waits for the first pair to be drawn (the cold start: torch import, graphs, model,
score table; reported apart), then presses A ``-n`` times. Each time the clock runs from the key
press until the page shows a different pair on its entity cards AND the drawing's iframe has drawn
that same pair: its vis-network has that pair's two centre nodes and its canvas has pixels. That
is what an analyst waits for: record the decision, rerun the page, explain the new pair (a forward
pass, not cached: every pair is new), build the pyvis page, load it in the iframe and paint it.

The page carries the analyst's panels (issue 16): the aligned attribute table, the competing
candidates, the evidence in words above a hop-1 drawing, and the counterfactuals (one forward pass
per influential neighbour, cached per pair). After each press the bench checks, once the run has
ended, which of them the new pair's page shows, and reports the share of pages that had them.

A key is pressed only once the previous script run has ended (``stApp``'s
``data-test-script-state``): the drawing is on screen before the run ends, and a key pressed
during a run is decided with the pair that run registered on the buttons. Two more figures come
with each press: when the entity cards changed, and when the run ended.

Target (review app brief): <= 1 s per pair; "met" is judged on p90. Prints one line per press and:
    dataset=demo-movies left_entities=3737 torch_threads=default cpus=2 load_average=4.0 method=review-app/chromium
    metric=next_pair_seconds median=0.837 p90=1.200 max=1.435 n=20 target<=1s MISSED (p90)
and writes bench/results/review_latency.json (``--results NAME`` for another name). The records
carry the machine's load average: on a shared machine the figures move with it.

If ``--project`` does not exist, it is built with ``mualign demo --dir PARENT --no-serve`` (the
default scale, 300 films per side; 2-3 minutes on 2 idle cores, much longer on busy ones).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import REPO, record, write_results

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}  # the analyst's smallest screen the page is laid out for
ANALYST = "bench"  # the page labels nothing without an analyst name (?analyst= in the address)
TARGET_S = 1.0

# Same page state as tests/app/test_browser.py: the pair on the entity cards, the pair drawn (the
# drawing's hop-0 nodes), whether the canvas has pixels. Resolves once a pair other than
# `previous` is on the cards and drawn.
WAIT_FOR_NEXT_PAIR_JS = """
(previous) => {
  let cards = [null, null];
  for (const c of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
    const k = c.querySelector('code');
    if (!k) continue;
    if (c.innerText.startsWith('Left · ')) cards[0] = k.innerText;
    if (c.innerText.startsWith('Right · ')) cards[1] = k.innerText;
  }
  const [left, right] = cards;
  if (!left || !right) return false;
  if (previous && left === previous[0] && right === previous[1]) return false;
  const frame = document.querySelector('iframe[data-testid="stIFrame"]');
  const doc = frame && frame.contentDocument, win = frame && frame.contentWindow;
  const canvas = doc && doc.querySelector('#mynetwork canvas');
  if (!canvas || !win.network || !canvas.width || !canvas.height) return false;
  const nodes = win.network.body.data.nodes;
  const centre = (side) => nodes.get({filter: (n) => n.hop === 0 && n.side === side}).map((n) => n.entity_id);
  const [l, r] = [centre('left'), centre('right')];
  if (l.length !== 1 || r.length !== 1 || l[0] !== left || r[0] !== right) return false;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) return {pair: [left, right], nodes: nodes.length}; }
  return false;
}
"""


# The first half of the wait: the entity cards name a pair other than `previous` (the rerun
# reached them; the drawing comes later in the same script run).
CARDS_CHANGED_JS = """
(previous) => {
  let cards = [null, null];
  for (const c of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
    const k = c.querySelector('code');
    if (!k) continue;
    if (c.innerText.startsWith('Left · ')) cards[0] = k.innerText;
    if (c.innerText.startsWith('Right · ')) cards[1] = k.innerText;
  }
  return Boolean(cards[0] && cards[1] && (cards[0] !== previous[0] || cards[1] !== previous[1]));
}
"""


SCRIPT_IDLE_JS = """() => document.querySelector('[data-testid="stApp"]')
  ?.getAttribute('data-test-script-state') === 'notRunning'"""

# Which of issue 16's panels the page shows (read once the run has ended).
PANELS_JS = """() => {
  const text = document.querySelector('[data-testid="stMain"]')?.innerText || '';
  return {attributes: Boolean(document.querySelector('[data-testid="stMain"] [data-testid="stTable"]'))
                      || text.includes('Neither entity has attribute values'),
          competitors: text.includes('Competing candidates') || text.includes('No competing candidates'),
          evidence: text.includes('Evidence in words'),
          counterfactuals: text.includes('Counterfactuals')};
}"""


def mualign_command() -> str:
    venv = REPO / ".venv" / "bin" / "mualign"
    return str(venv) if venv.exists() else "mualign"


def build_demo(directory: Path, scale: int | None) -> None:
    command = [mualign_command(), "demo", "--dir", str(directory), "--no-serve"]
    if scale is not None:
        command += ["--scale", str(scale)]
    print("building the demo:", " ".join(command), flush=True)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    print(f"built in {time.perf_counter() - start:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(project: Path, db_url: str, port: int, log_path: Path, torch_threads: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamlit", "run", "app.py",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--", "--project", str(project), "--db", db_url]
    env = {k: v for k, v in os.environ.items() if k not in ("MUALIGN_PROJECT", "MUALIGN_DB")}
    if torch_threads is not None:
        env["OMP_NUM_THREADS"] = str(torch_threads)  # torch's intra-op threads in the server
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"streamlit not healthy after 60 s:\n{log_path.read_text()}")
        time.sleep(0.2)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


SNAPSHOT_JS = """() => ({
  script: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
  connection: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-connection-state'),
  cards: [...document.querySelectorAll('[data-testid="stCaptionContainer"]')].map((c) => c.innerText).slice(0, 4),
  exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map((e) => e.innerText.slice(0, 500)),
  toasts: [...document.querySelectorAll('[data-testid="stToast"]')].map((t) => t.innerText),
  focused: document.activeElement && document.activeElement.tagName,
})"""


def wait(page, script: str, arg, timeout_s: float, what: str):
    """``page.wait_for_function`` that, on a timeout, says what it waited for and what the page showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000, polling="raf")
    except PlaywrightTimeout:
        raise RuntimeError(f"no {what} within {timeout_s:g} s; the page: {page.evaluate(SNAPSHOT_JS)}") from None


def measure(url: str, presses: int, step_timeout_s: float, viewport: dict | None = None) -> tuple[float, list[dict]]:
    """(cold-start seconds to the first drawn pair, one {pair, nodes, seconds} per press)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=viewport or VIEWPORT)
        try:
            page = context.pages[0]
            start = time.perf_counter()
            page.goto(f"{url}/?analyst={ANALYST}")
            state = wait(page, WAIT_FOR_NEXT_PAIR_JS, None, 180, "first pair drawn").json_value()
            cold = time.perf_counter() - start
            print(f"first pair {state['pair'][0]} <-> {state['pair'][1]} drawn ({state['nodes']} nodes) "
                  f"{cold:.2f} s after opening the page (cold start)", flush=True)
            runs = []
            for i in range(presses):
                previous = state["pair"]
                # press only once the previous run has ended: a key pressed during a run is decided
                # with the pair context that run registered, maybe a pair not on screen yet
                wait(page, SCRIPT_IDLE_JS, None, step_timeout_s, f"end of the script run before press {i + 1}")
                # the key must reach the page, not a focused text input (the note, the analyst name)
                page.evaluate("() => document.activeElement && document.activeElement.blur()")
                start = time.perf_counter()
                page.keyboard.press("a")
                wait(page, CARDS_CHANGED_JS, previous, step_timeout_s, f"new pair on the cards after press {i + 1}")
                cards = time.perf_counter() - start
                state = wait(page, WAIT_FOR_NEXT_PAIR_JS, previous, step_timeout_s,
                             f"new pair drawn after press {i + 1}").json_value()
                seconds = time.perf_counter() - start
                wait(page, SCRIPT_IDLE_JS, None, step_timeout_s, f"end of the script run after press {i + 1}")
                idle = time.perf_counter() - start
                panels = page.evaluate(PANELS_JS)
                runs.append({"pair": state["pair"], "nodes": state["nodes"], "seconds": seconds,
                             "cards_seconds": cards, "idle_seconds": idle, "panels": panels})
                shown = ",".join(name for name, present in panels.items() if present) or "none"
                print(f"press {i + 1:2d}: {seconds:.3f} s (cards {cards:.3f} s, run ended {idle:.3f} s) -> "
                      f"{state['pair'][0]} <-> {state['pair'][1]} ({state['nodes']} nodes; panels {shown})",
                      flush=True)
        finally:
            context.close()
    return cold, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO / "mualign-demo" / "movies",
                        help="a project with a trained model (default: mualign-demo/movies; built if missing)")
    parser.add_argument("--scale", type=int, default=None,
                        help="build a temporary demo at this scale and measure its movie project instead")
    parser.add_argument("-n", "--presses", type=int, default=20)
    parser.add_argument("--step-timeout", type=float, default=60.0, help="seconds to wait for one next pair")
    parser.add_argument("--results", default="review_latency", help="bench/results/NAME.json to write")
    parser.add_argument("--viewport", default="1280x720", help="browser window WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the server (default: unset, torch uses one thread per core)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found: apt-get install -y chromium")
    if args.presses < 1:
        sys.exit(f"--presses must be at least 1, got {args.presses}")
    try:
        width, height = (int(x) for x in args.viewport.lower().split("x"))
    except ValueError:
        sys.exit(f"--viewport must be WIDTHxHEIGHT, e.g. 1280x720, got {args.viewport!r}")
    viewport = {"width": width, "height": height}

    with tempfile.TemporaryDirectory(prefix="review-latency-") as work:
        work = Path(work)
        if args.scale is not None:
            build_demo(work / "demo", args.scale)
            project = work / "demo" / "movies"
        else:
            project = args.project.resolve()
            if not project.is_dir():
                build_demo(project.parent, None)
        if not (project / "models" / "ACTIVE").is_file():
            sys.exit(f"{project}: no models/ACTIVE; the review page draws nothing without a model. "
                     f"Train one (mualign train --project {project}) or pass --scale N.")
        left_entities = sum(1 for _ in open(project / "left" / "entities.tsv", encoding="utf-8")) - 1
        dataset = f"demo-{project.name}"
        log_path = work / "streamlit.log"
        port = free_port()
        server = start_server(project, f"sqlite:///{work / 'labels.sqlite'}", port, log_path, args.torch_threads)
        try:
            cold, runs = measure(f"http://127.0.0.1:{port}", args.presses, args.step_timeout, viewport)
        except Exception:
            print(f"---- streamlit log ----\n{log_path.read_text()}", file=sys.stderr)
            raise
        finally:
            stop_server(server)

    seconds = [r["seconds"] for r in runs]
    median, p90, worst = statistics.median(seconds), percentile(seconds, 90), max(seconds)
    cards_median = statistics.median(r["cards_seconds"] for r in runs)
    idle_median = statistics.median(r["idle_seconds"] for r in runs)
    met = p90 <= TARGET_S
    panel_share = {name: sum(r["panels"][name] for r in runs) / len(runs) for name in runs[0]["panels"]}
    # the server inherits OMP_NUM_THREADS when --torch-threads is not given
    threads = args.torch_threads if args.torch_threads is not None else os.environ.get("OMP_NUM_THREADS", "default")
    print(f"dataset={dataset} left_entities={left_entities} torch_threads={threads} cpus={os.cpu_count()} "
          f"load_average={os.getloadavg()[0]:.1f} method=review-app/chromium metric=next_pair_seconds "
          f"median={median:.3f} p90={p90:.3f} max={worst:.3f} n={len(seconds)} "
          f"target<={TARGET_S:g}s {'met' if met else 'MISSED'} (p90)")
    print(f"  entity cards updated after median {cards_median:.3f} s; the script run ended after median "
          f"{idle_median:.3f} s; cold start (open page to first pair drawn) {cold:.1f} s")
    print("  panels on the pages after a press: " + ", ".join(f"{name} {share:.0%}" for name, share in panel_share.items())
          + f" (viewport {width}x{height})")
    common = dict(n=len(seconds), target_s=TARGET_S, project=str(project) if args.scale is None else None,
                  scale=args.scale, left_entities=left_entities, torch_threads=threads,
                  cpus=os.cpu_count(), load_average_1min=round(os.getloadavg()[0], 2), viewport=f"{width}x{height}",
                  panels={name: round(share, 3) for name, share in panel_share.items()})
    method = "review-app/chromium: key A to next pair drawn (issue 16 panels on the page)"
    records = [record(dataset, method, f"next_pair_seconds_{name}", value, "s", met=value <= TARGET_S, **common)
               for name, value in (("median", median), ("p90", p90), ("max", worst))]
    records.append(record(dataset, "review-app/chromium: key A to next pair's entity cards",
                          "cards_seconds_median", cards_median, "s", **common))
    records.append(record(dataset, "review-app/chromium: key A to the page's script run ended",
                          "run_end_seconds_median", idle_median, "s", **common))
    records.append(record(dataset, "review-app/chromium: open page to first pair drawn", "cold_start_seconds",
                          cold, "s", **common))
    path = write_results(args.results, records)
    print(f"wrote {len(records)} records to {path}")


if __name__ == "__main__":
    main()
