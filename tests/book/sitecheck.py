"""Helpers for the browser tests (tests/book/test_book.py, test_stepper_renderers.py): serve a
folder on 127.0.0.1 and drive Debian's Chromium.

Kept apart from the tests so that the same checks can be run by hand on any built site::

    .venv/bin/python tests/book/sitecheck.py _build/html

Nothing here downloads a browser: Playwright drives the system ``chromium`` binary.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import socketserver
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Flags that work as root with no network; the resolver rule makes every host but 127.0.0.1
# unresolvable, so the browser really is offline even on a machine that has a network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# sphinx-thebe emits its inline script twice; every page logs this error. Harmless.
KNOWN_PAGE_ERROR = "THEBE_JS_URL"

STATE_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S)
VIEW_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S)
LABEL_RE = re.compile(r"step (\d+) / (\d+)")


def find_chromium() -> str:
    """Path of the system Chromium, or a clear error saying how to install it."""
    for path in CHROMIUM_CANDIDATES:
        if Path(path).exists():
            return path
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise RuntimeError(
        "Chromium is needed for the browser tests and was not found: run `make system-deps` "
        "(it installs Debian's `chromium` with apt-get). Do not run `playwright install`: the "
        "tests use the system browser and must work offline."
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output readable
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a closed tab: not an error
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 at a free port in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def stepper_view_count(page_html: str) -> int:
    """How many nblib steppers the page displays, read from its saved widget state."""
    steppers = set()
    for block in STATE_RE.findall(page_html):
        state = json.loads(block)
        for model_id, model in state.get("state", {}).items():
            st = model.get("state", {})
            # an nblib stepper, or a subclass defined in a chapter (same front end)
            if (str(st.get("_anywidget_id", "")).startswith("nblib.widgets.")
                    or "nbs-stepper" in str(st.get("_esm", ""))):
                steppers.add(model_id)
    count = 0
    for block in VIEW_RE.findall(page_html):
        view = json.loads(block)
        count += view.get("model_id") in steppers
    return count


def has_math(page_html: str) -> bool:
    """Whether Sphinx put any formula on the page (inline or display math)."""
    return 'class="math notranslate nohighlight"' in page_html


def site_pages(site: Path) -> list[Path]:
    """Every HTML page of the built site (not the copies of third-party assets)."""
    return sorted(p for p in site.rglob("*.html")
                  if not p.relative_to(site).parts[0].startswith(("_static", "_sources", "_images")))


@dataclass
class PageReport:
    url: str
    external: list[str] = field(default_factory=list)    # requests that left 127.0.0.1
    errors: list[str] = field(default_factory=list)      # uncaught page errors, unexpected ones
    failed: list[str] = field(default_factory=list)      # local requests that failed or 4xx/5xx

    def problems(self) -> list[str]:
        return ([f"request left 127.0.0.1: {u}" for u in self.external]
                + [f"page error: {e}" for e in self.errors]
                + [f"failed request: {f}" for f in self.failed])


def watch(page, context_report: PageReport) -> None:
    """Record every problem on ``page`` into ``context_report``."""
    def on_error(err):
        text = str(err)
        if KNOWN_PAGE_ERROR not in text:
            context_report.errors.append(text)

    def on_response(resp):
        if resp.status >= 400:
            context_report.failed.append(f"{resp.status} {resp.url}")

    page.on("pageerror", on_error)
    page.on("response", on_response)
    page.on("requestfailed", lambda req: context_report.failed.append(
        f"{req.failure} {req.url}") if _is_local(req.url) else None)


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def block_external(context, sink: list[str]) -> None:
    """Abort (and record into ``sink``) every request of ``context`` that would leave 127.0.0.1."""
    def handler(route):
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            sink.append(url)
            route.abort()
    context.route("**/*", handler)


def launch(playwright, user_data_dir: Path):
    """A fresh headless Chromium context (system binary, offline flags, new profile)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=find_chromium(), headless=True,
        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
    )


def step_label(stepper) -> tuple[int, int]:
    """(i, n) from a stepper's visible 'step i / n' label."""
    text = stepper.locator(".nbs-label").inner_text()
    match = LABEL_RE.search(text)
    assert match, f"stepper label {text!r} does not read 'step i / n'"
    return int(match.group(1)), int(match.group(2))


def exercise_stepper(page, stepper, shot_prefix: Path | None = None) -> dict:
    """Drive one rendered stepper: First, Next, Prev, slider to the end. Returns what it saw."""
    stepper.scroll_into_view_if_needed()
    assert stepper.locator("svg").count() >= 1, "stepper drew no SVG"
    _, n = step_label(stepper)
    first = stepper.locator("button.nbs-first")
    if first.is_enabled():  # a saved notebook may hold any step
        first.click()
    assert step_label(stepper) == (1, n)
    assert stepper.locator("button.nbs-prev").is_disabled()
    if shot_prefix is not None:
        page.screenshot(path=str(shot_prefix.with_name(shot_prefix.name + ".png")))
    seen = {"steps": n, "first_caption": stepper.locator(".nbs-caption").inner_text()}
    if n >= 2:
        stepper.locator("button.nbs-next").click()
        assert step_label(stepper) == (2, n), "Next did not move to step 2"
        assert stepper.locator(".nbs-caption").inner_text().startswith(f"Step 2 of {n}")
        seen["next_caption"] = stepper.locator(".nbs-caption").inner_text()
        if shot_prefix is not None:
            page.screenshot(path=str(shot_prefix.with_name(shot_prefix.name + "-next.png")))
        stepper.locator("button.nbs-prev").click()
        assert step_label(stepper) == (1, n), "Prev did not go back to step 1"
        stepper.locator("input.nbs-slider").fill(str(n - 1))
        assert step_label(stepper) == (n, n), "the slider did not jump to the last step"
        assert stepper.locator("button.nbs-next").is_disabled()
        first.click()
        play = stepper.locator("button.nbs-play")
        play.click()  # Play advances on its own, client-side
        page.wait_for_function(
            "el => /step ([2-9]|\\d\\d+) \\//.test(el.textContent)",
            arg=stepper.locator(".nbs-label").element_handle(), timeout=5_000)
        # Pause. A short animation may reach its end (and stop by itself) just before the
        # click, which then starts it again: a second click pauses that one.
        for _ in range(2):
            if play.inner_text().strip().endswith("Pause"):
                play.click()
        assert play.inner_text().strip().endswith("Play"), "Pause did not stop playing"
        first.click()
    return seen


def check_solutions(page) -> None:
    """Cells tagged ``solution`` are folded: code hidden until the reader opens the toggle."""
    cells = page.locator(".cell.tag_solution")
    for k in range(cells.count()):
        cell = cells.nth(k)
        summary = cell.locator("details > summary").first
        code = cell.locator(".cell_input").first
        assert "Show solution" in summary.inner_text(), "no 'Show solution' toggle"
        assert not code.is_visible(), "solution code is visible before the toggle is opened"
        summary.click()
        assert code.is_visible(), "opening the toggle did not show the solution"
        summary.click()


# Visible code cells whose text is wider than the column (the longest line of each).
SCROLLING_CODE_JS = """() => [...document.querySelectorAll('div.cell_input pre')]
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText.split('\\n').reduce((a, b) => b.length > a.length ? b : a, ''))"""


def check_site(site: Path, user_data_dir: Path, shots: Path | None = None,
               widget_timeout_ms: int = 30_000) -> dict:
    """Open every page of ``site``; return {'problems': {...}, 'stepper_pages': [...], ...}."""
    from playwright.sync_api import sync_playwright

    result = {"problems": {}, "stepper_pages": [], "math_pages": [], "pages": 0, "steppers": {}}
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    with serve(site) as base, sync_playwright() as p:
        context = launch(p, user_data_dir)
        try:
            for path in site_pages(site):
                rel = path.relative_to(site).as_posix()
                source = path.read_text(encoding="utf-8", errors="replace")
                report = PageReport(base + rel)
                block_external(context, report.external)
                page = context.new_page()
                page.set_default_timeout(5_000)
                watch(page, report)
                page.goto(report.url, wait_until="load")
                redirect = 'http-equiv="refresh"' in source.lower()   # index.html: no content
                wide = [] if redirect else page.evaluate(SCROLLING_CODE_JS)
                if wide:
                    report.errors.append(f"{len(wide)} code cells scroll sideways (lines over the "
                                         f"book's column), e.g. {wide[0]!r}")
                if has_math(source):
                    result["math_pages"].append(rel)
                    try:
                        page.wait_for_selector("mjx-container", state="attached",
                                               timeout=widget_timeout_ms)
                    except Exception:
                        report.errors.append("math was not typeset (no mjx-container)")
                expected = stepper_view_count(source)
                if expected:
                    result["stepper_pages"].append(rel)
                    try:
                        page.wait_for_function(
                            f"document.querySelectorAll('.nbs-stepper .nbs-label').length >= {expected}",
                            timeout=widget_timeout_ms)
                    except Exception:
                        rendered = page.locator(".nbs-stepper").count()
                        report.errors.append(f"{rendered} of {expected} steppers rendered")
                    else:
                        slug = rel.removesuffix(".html").replace("/", "__")
                        for k in range(expected):
                            prefix = shots / f"{slug}-stepper{k}" if shots is not None else None
                            try:
                                result["steppers"][f"{rel}#{k}"] = exercise_stepper(
                                    page, page.locator(".nbs-stepper").nth(k), prefix)
                            except Exception as err:  # an assertion or a Playwright timeout
                                report.errors.append(f"stepper {k}: {err}")
                if "tag_solution" in source:
                    result.setdefault("solution_pages", []).append(rel)
                    try:
                        check_solutions(page)
                    except Exception as err:
                        report.errors.append(f"solution toggle: {err}")
                page.wait_for_timeout(100)  # let late requests show up
                page.close()
                context.unroute("**/*")
                result["pages"] += 1
                if report.problems():
                    result["problems"][rel] = report.problems()
        finally:
            context.close()
    return result


if __name__ == "__main__":
    import tempfile
    import time

    site = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        out = check_site(site, Path(tmp) / "profile", site.parent / "screenshots")
    print(json.dumps(out, indent=2))
    print(f"{out['pages']} pages in {time.time() - t0:.1f} s")
    sys.exit(1 if out["problems"] else 0)
