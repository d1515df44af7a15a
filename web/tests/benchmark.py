"""Benchmark (not a test): the page resolving the linearized Qwen3-Next
fixture (99,187 modules) in headless Chromium, through its worker.

Prints, per run, the time of the validator's check() call itself (measured
in the worker around the call; goal <= 150 ms), the file reading and report
summary times, the click-to-rendered wall time, and the longest main-thread
task (what the user would feel as a freeze); then the validator's sizes.

  bazel build //web:site //tests/fixtures/mapping:all
  .venv/bin/python web/tests/benchmark.py [--runs 5] [--model PATH] [--config-only]

--config-only gives the page only the fixture's config.json (the structure is
then built from the architecture), which separates the cost of parsing the
31 MB module dump from the rest of check().
"""
import argparse
import gzip
import json
import pathlib
import statistics
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from conftest import CHROMIUM_ARGS, FIXTURES_DIR, SITE_DIR, SiteServer  # noqa: E402

LONGEST_TASK = """() => {
  window.__longest = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
  }).observe({ type: 'longtask', buffered: false });
}"""


# Runs the worker's 'profile' message `runs` times on the model file the
# page's picker holds.
PROFILE = """async (runs) => {
  const file = document.querySelector('#file-model').files[0];
  const worker = new Worker('worker.js');
  await new Promise((resolve) => worker.addEventListener('message', function ready(e) {
    if (e.data.type === 'ready') { worker.removeEventListener('message', ready); resolve(); }
  }));
  const out = [];
  for (let i = 0; i < runs; i++) {
    out.push(await new Promise((resolve, reject) => {
      worker.onmessage = (e) => {
        if (e.data.type !== 'profile') return;
        if (e.data.error) reject(new Error(e.data.error)); else resolve(e.data.timings);
      };
      worker.postMessage({ type: 'profile', id: 'bench' + i, model: { file } });
    }));
  }
  worker.terminate();
  return out;
}"""


def sizes(site):
    for name in ("wring_validator.wasm", "wring_validator.js"):
        data = (site / name).read_bytes()
        print(f"{name}: {len(data):,} bytes raw, {len(gzip.compress(data, 9)):,} bytes gzip -9")
    page = sum((site / n).stat().st_size for n in ("index.html", "style.css", "app.js", "render.js", "summarize.js", "worker.js"))
    print(f"page files (html/css/js): {page:,} bytes raw")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=str(FIXTURES_DIR / "Qwen3NextForCausalLM.linearized.json"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--config-only", action="store_true")
    args = parser.parse_args()

    with SiteServer(SITE_DIR) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector("#engine-status[data-ready=true]", timeout=60_000)
        if args.config_only:
            dump = json.loads(pathlib.Path(args.model).read_text())
            config = tempfile.NamedTemporaryFile("w", suffix="config.json", delete=False)
            json.dump(dict(dump["config"], architectures=[dump["architecture"]]), config)
            config.close()
            page.set_input_files("#file-config", config.name)
            print(f"config.json only, of {args.model}")
        else:
            page.set_input_files("#file-model", args.model)
            print(f"model: {args.model} ({pathlib.Path(args.model).stat().st_size:,} bytes)")
        page.evaluate(LONGEST_TASK)
        checks = []
        for run in range(args.runs):
            page.evaluate("() => { window.__longest = 0; }")
            start = time.perf_counter()
            page.click("#check")
            page.wait_for_selector("body[data-state=done]", timeout=300_000)
            wall = (time.perf_counter() - start) * 1000
            check_ms = float(page.get_attribute("#timings", "data-check-ms"))
            longest = page.evaluate("() => window.__longest")
            checks.append(check_ms)
            print(f"run {run + 1}: check() {check_ms:.1f} ms | {page.inner_text('#timings')} | "
                  f"click-to-rendered {wall:.0f} ms | longest main-thread task {longest:.0f} ms | "
                  f"verdict: {page.inner_text('#verdict .summary')}")
            page.evaluate("() => { document.body.dataset.state = ''; }")
        print(f"check() (read model + resolve + JSON report): min {min(checks):.1f} ms, "
              f"median {statistics.median(checks):.1f} ms over {len(checks)} runs")
        if not args.config_only:
            # The validator's own breakdown, from a second worker of the site.
            profiles = page.evaluate(PROFILE, args.runs)
            for i, t in enumerate(profiles):
                print(f"profile {i + 1}: read model {t['read_model_ms']:.1f} ms | resolve "
                      f"{t['resolve_ms']:.1f} ms | report {t['report_ms']:.1f} ms | "
                      f"{t['modules']} modules, {t['resolved_awq_mappings']} AWQ mappings")
            resolve = [t["resolve_ms"] for t in profiles]
            print(f"resolution in Chromium: min {min(resolve):.1f} ms, median "
                  f"{statistics.median(resolve):.1f} ms (goal <= 150 ms)")
        print(f"browser: Chromium {browser.version}")
        browser.close()
    sizes(SITE_DIR)


if __name__ == "__main__":
    main()
