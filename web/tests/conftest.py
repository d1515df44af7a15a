"""Shared fixtures of the browser tests: the built site served from
127.0.0.1 by a bounded http.server thread, and Debian's Chromium driven
headless by Playwright (never a downloaded browser).

Environment:
  WRING_SITE_DIR      the built site (default: bazel-bin/web/site)
  WRING_FIXTURES_DIR  the decompressed mapping fixtures
                      (default: bazel-bin/tests/fixtures/mapping)
  WRING_CHROMIUM      the browser (default: /usr/bin/chromium)
  TEST_UNDECLARED_OUTPUTS_DIR or WRING_WEB_ARTIFACTS: where screenshots go
                      (default: /tmp/wring-web-artifacts)
"""
import functools
import http.server
import os
import pathlib
import tempfile
import threading

import pytest
from playwright.sync_api import sync_playwright

REPO = pathlib.Path(__file__).resolve().parents[2]

# Keep Chromium from reaching out (updates, safe browsing, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


def _dir(env, default):
    return pathlib.Path(os.environ.get(env) or REPO / default).resolve()


SITE_DIR = _dir("WRING_SITE_DIR", "bazel-bin/web/site")
FIXTURES_DIR = _dir("WRING_FIXTURES_DIR", "bazel-bin/tests/fixtures/mapping")
ARTIFACTS_DIR = pathlib.Path(
    os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or os.environ.get("WRING_WEB_ARTIFACTS") or "/tmp/wring-web-artifacts")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                          **{".wasm": "application/wasm", ".js": "text/javascript"})

    def log_message(self, *args):
        pass


class SiteServer:
    """The site on 127.0.0.1 (a free port), served by a daemon thread."""

    def __init__(self, directory):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def site():
    if not (SITE_DIR / "index.html").is_file() or not (SITE_DIR / "wring_validator.wasm").is_file():
        pytest.fail(f"no built site at {SITE_DIR}: run `bazel build //web:site` (web/tests/run_browser_tests.sh does)")
    with SiteServer(SITE_DIR) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("WRING_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory(prefix="wring-chromium-") as home:
        # Chromium writes crash dumps and caches under $HOME.
        env = dict(os.environ, HOME=home)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, env=env, timeout=60_000)
            yield b
            b.close()


@pytest.fixture
def page(browser, site):
    """A fresh page with the validator loaded; records every request it makes."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests = []
    page.console_errors = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(site.url)
    page.wait_for_selector("#engine-status[data-ready=true]", timeout=60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def fixtures_dir():
    if not (FIXTURES_DIR / "LlamaForCausalLM.json").is_file():
        pytest.fail(f"no mapping fixtures at {FIXTURES_DIR}: run `bazel build //tests/fixtures/mapping:all`")
    return FIXTURES_DIR
