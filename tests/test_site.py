"""The asv site as a user sees it, in a real browser.

The site is built from the committed results (``scripts/asv_site.py publish``: ``asv
publish``, then every library served from the site itself), served on 127.0.0.1 and
loaded in headless Chromium through ChromeDriver and Selenium (Debian's ``chromium`` and
``chromium-driver``, installed by ``make site-tools``; without them these tests fail,
they are not skipped). One visit of the benchmark grid, one benchmark's page and the
regressions page is recorded, with every request the browser made; the tests check that

* no request leaves 127.0.0.1 (and, on asv's own page, that the check sees the CDN);
* the grid draws a graph for every benchmark;
* the benchmark page draws the committed runs as one connected line per parameter
  combination;
* the regressions page lists what changed between the committed runs.

Screenshots are kept in ``build/test-artifacts/``.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: The benchmark whose page is checked line by line.
BENCHMARK = "transform.TimeTransform.time_symbol"
#: Schemes the browser serves from itself (its own pages, inline data), never the network.
LOCAL_SCHEMES = {"about", "blob", "chrome", "chrome-extension", "chrome-untrusted", "data",
                 "devtools"}
TIMEOUT = 60

_spec = importlib.util.spec_from_file_location("asv_site", ROOT / "scripts" / "asv_site.py")
asv_site = importlib.util.module_from_spec(_spec)
sys.modules["asv_site"] = asv_site  # its dataclasses look their module up while defined
_spec.loader.exec_module(asv_site)


def committed_results(into: Path) -> Path:
    """The asv results as committed (``HEAD``), written to ``into``; outside a git
    checkout, a copy of ``results/``. Runs made since, not committed, are left out."""
    done = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD", "--", "results",
         ":(exclude)results/spectra"], cwd=ROOT, capture_output=True,
    )
    if done.returncode != 0:  # not a git checkout
        shutil.copytree(ROOT / "results", into, ignore=shutil.ignore_patterns("spectra"))
        return into
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            target = into / Path(member.name).relative_to("results")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
    return into


def off_site(urls: list[str], host: str = "127.0.0.1") -> list[str]:
    """The requests of ``urls`` that leave ``host``."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            continue
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname == host:
            continue
        out.append(url)
    return out


def test_off_site_tells_local_from_remote():
    urls = ["http://127.0.0.1:8000/index.html", "data:image/png;base64,xx",
            "chrome://new-tab-page/", "https://code.jquery.com/jquery-3.3.1.min.js",
            "http://localhost.example/x", "ftp://127.0.0.2/y"]
    assert off_site(urls) == urls[3:]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed_results(tmp_path_factory.mktemp("committed") / "results")


@pytest.fixture(scope="module")
def site(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return asv_site.publish(results, tmp_path_factory.mktemp("site") / "html", quiet=True)


@pytest.fixture(scope="module")
def browser() -> Any:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: `make site-tools` installs Debian's "
                    "chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Selenium's driver manager stays out of it: the driver is given, nothing is fetched
    os.environ.setdefault("SE_AVOID_STATS", "true")
    os.environ.setdefault("SE_OFFLINE", "true")
    profile = tempfile.mkdtemp(prefix="convbench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,1000",
        # a safety net: names other than 127.0.0.1 do not resolve, so nothing can leave
        # even by mistake; the attempt still shows in the log the tests read
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requests_made(driver: Any) -> list[str]:
    """Every URL the browser asked for since the last call (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def wait_for(driver: Any, script: str, what: str,
             done: Callable[[Any], bool] = bool) -> Any:
    """Poll ``script`` (JavaScript returning a value) until ``done`` holds for its value
    (default: it is truthy); that value."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d: Any) -> Any:
        value = d.execute_script(script)
        return value if value and done(value) else None

    try:
        return WebDriverWait(driver, TIMEOUT, poll_frequency=0.2).until(ready)
    except TimeoutException:
        logs = driver.get_log("browser")
        pytest.fail(f"timed out waiting for {what}; browser console: {logs[-5:]}")


def screenshot(driver: Any, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    if full_page:
        height = driver.execute_script(
            "return Math.max(document.documentElement.scrollHeight, ...Array.from("
            "document.querySelectorAll('body *')).map(e => e.getBoundingClientRect().bottom"
            " + window.scrollY))")
        driver.set_window_size(1400, max(1000, min(int(height) + 100, 8000)))
    driver.save_screenshot(str(path))
    if full_page:
        driver.set_window_size(1400, 1000)
    return path


#: Per grid box: its benchmark, how many points the plot has, how many strongly coloured
#: pixels its canvas holds (the line or dot; frame, grid and background are grey).
GRID_STATE = """
return Array.from(document.querySelectorAll('.benchmark-plot')).map(function (el) {
    var plot = $(el).data('plot');
    var points = 0, coloured = 0;
    if (plot) {
        plot.getData().forEach(function (s) {
            s.data.forEach(function (p) { if (p && p[1] !== null) { points += 1; } });
        });
        var canvas = el.querySelector('canvas.flot-base');
        var px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (var i = 0; i < px.length; i += 4) {
            var hi = Math.max(px[i], px[i + 1], px[i + 2]);
            var lo = Math.min(px[i], px[i + 1], px[i + 2]);
            if (px[i + 3] > 0 && hi - lo > 60) { coloured += 1; }
        }
    }
    return [el.id.replace(/^summarygrid-/, ''), !!plot, points, coloured];
});
"""

SERIES = """
var plot = $('#main-graph').data('plot');
if (!plot) { return null; }
var series = plot.getData();
if (!series.length) { return null; }
return series.map(function (s) { return [s.label, s.data, !!s.lines.show]; });
"""


@pytest.fixture(scope="module")
def visit(site: Path, browser: Any, results: Path) -> dict[str, Any]:
    """One user's visit: grid, one benchmark's page, regressions; what each showed."""
    # the page loads each machine's graph on its own: wait for every machine's lines
    machines = {key[0] for key in expected_runs(results, BENCHMARK)}
    seen: dict[str, Any] = {"requests": []}
    with asv_site.serving(site) as url:
        seen["url"] = url
        browser.get(url + "index.html")
        wait_for(browser, "return window.$ && $.asv && $.asv.main_json && "
                 "document.querySelectorAll('.benchmark-plot').length", "the grid")
        # the grid draws each box when it scrolls into view: bring every one into view
        browser.execute_script(
            "document.querySelectorAll('.benchmark-plot').forEach(function (el) {"
            "  el.scrollIntoView(); window.dispatchEvent(new Event('scroll')); });"
            "window.scrollTo(0, 0);")
        wait_for(browser, "return Array.from(document.querySelectorAll('.benchmark-plot'))"
                 ".every(function (el) { return $(el).data('plot'); })", "every grid plot")
        seen["grid"] = browser.execute_script(GRID_STATE)
        seen["benchmarks"] = sorted(browser.execute_script(
            "return Object.keys($.asv.main_json.benchmarks)"))
        seen["revision_to_hash"] = browser.execute_script(
            "return $.asv.main_json.revision_to_hash")
        seen["grid_png"] = screenshot(browser, "site-grid.png", full_page=True)

        browser.get(url + "index.html#" + BENCHMARK)
        seen["series"] = wait_for(
            browser, "return (function () {" + SERIES + "})()", f"the graph of {BENCHMARK}",
            done=lambda series: machines <= {
                part.split("-", 1)[1] for label, _, _ in series for part in label.split("; ")
                if part.startswith("machine-")})
        seen["benchmark_png"] = screenshot(browser, "site-benchmark.png")

        browser.get(url + "index.html#/regressions")
        seen["regressions"] = wait_for(
            browser, "return document.querySelectorAll("
            "'#regressions-body table:not(.ignored) tbody tr').length", "the regressions table")
        seen["regressions_png"] = screenshot(browser, "site-regressions.png")
        seen["requests"] = requests_made(browser)
    return seen


def test_no_request_leaves_127_0_0_1(visit):
    requests = visit["requests"]
    paths = [urlsplit(u).path for u in requests]
    assert "/vendor/npm-jquery-3.3.1/dist/jquery.min.js" in paths
    assert "/index.json" in paths
    assert any(p.startswith("/graphs/summary/") for p in paths)
    assert off_site(requests) == []


def test_the_check_sees_asv_pages_own_cdn_requests(site, browser, tmp_path):
    """asv's unmodified page, served the same way, is caught loading from the CDNs: the
    check above can fail."""
    raw = tmp_path / "raw"
    shutil.copytree(site, raw)
    shutil.copy2(asv_site.asv_www() / "index.html", raw / "index.html")
    requests_made(browser)  # drop what came before
    with asv_site.serving(raw) as url:
        browser.get(url + "index.html")
        wait_for(browser, "return document.readyState === 'complete'", "asv's own page")
        leaving = off_site(requests_made(browser))
    hosts = {urlsplit(u).hostname for u in leaving}
    assert "code.jquery.com" in hosts
    assert "cdnjs.cloudflare.com" in hosts


def test_the_grid_draws_a_graph_for_every_benchmark(visit):
    boxes = {name: (has_plot, points, coloured)
             for name, has_plot, points, coloured in visit["grid"]}
    assert sorted(boxes) == visit["benchmarks"]
    assert len(boxes) >= 20
    empty = {name: state for name, state in boxes.items()
             if not (state[0] and state[1] >= 1 and state[2] >= 10)}
    assert empty == {}, f"grid boxes without a graph: {empty}; see {visit['grid_png']}"


def expected_runs(results: Path, benchmark: str) -> dict[tuple[str, ...], list[str]]:
    """Per machine and parameter combination (values as asv's labels show them), the
    commits whose committed run has a value for it, with the current benchmark version:
    ``(machine, *combination) -> commits``."""
    meta = json.loads((results / "benchmarks.json").read_text())[benchmark]
    version = meta["version"]
    out: dict[tuple[str, ...], list[str]] = {}
    for path in sorted(results.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        entry = data["results"].get(benchmark)
        if entry is None:
            continue
        record = dict(zip(data["result_columns"], entry, strict=False))
        if record.get("version") != version:
            continue
        for combo, value in zip(itertools.product(*record["params"]), record["result"],
                                strict=True):
            if value is not None and value == value:  # None: failed, NaN: skipped
                key = (data["params"]["machine"], *(v.strip("'") for v in combo))
                out.setdefault(key, []).append(data["commit_hash"])
    return out


def test_one_benchmark_draws_one_connected_line_per_parameter_combination(visit, results):
    meta = json.loads((results / "benchmarks.json").read_text())[BENCHMARK]
    names = meta["param_names"]
    runs = expected_runs(results, BENCHMARK)
    series = visit["series"]
    labels = [label for label, _, _ in series]
    assert len(labels) == len(set(labels)), f"a combination drawn twice: {labels}"
    # asv's default view: the combinations of the first values, one line per machine
    machines = {key[0] for key in runs}
    assert len(machines) >= 2 and len(series) >= 8
    hashes = visit["revision_to_hash"]
    place = {commit: int(rev) for rev, commit in hashes.items()}
    for label, data, lines in series:
        assert lines, f"{label} is drawn without lines"
        values = dict(part.split("-", 1) for part in label.split("; "))
        combo = (values["machine"], *(values[name] for name in names))
        drawn = [i for i, point in enumerate(data) if point is not None and point[1] is not None]
        if not runs.get(combo):  # e.g. a machine whose tracked runs skipped this cell
            assert not drawn, f"{label}: drawn without a committed value"
            continue
        assert drawn, f"{label}: no point"
        # connected: no gap between the first and the last point
        assert drawn == list(range(drawn[0], drawn[-1] + 1)), f"{label}: broken line {data}"
        commits = [hashes[str(data[i][0])] for i in drawn]
        committed = sorted(runs[combo], key=place.__getitem__)
        assert commits == committed, f"{label}: drawn {commits}, committed {committed}"
    # on each machine, the runs before the fast path existed are on the lfa, fft and fftw
    # lines: some line holds every run of its machine
    for machine in machines:
        lines = [c for key, c in runs.items() if key[0] == machine]
        assert max(len(c) for c in lines) == len({h for c in lines for h in c}) >= 2


def test_the_regressions_page_lists_changes(visit):
    assert visit["regressions"] >= 1


def test_asvs_page_asks_for_exactly_the_pinned_libraries():
    asv_site.check_page((asv_site.asv_www() / "index.html").read_text())


def test_another_version_asked_for_fails_loudly():
    page = (asv_site.asv_www() / "index.html").read_text()
    newer = page.replace("jquery-3.3.1.min.js", "jquery-3.7.1.min.js")
    with pytest.raises(asv_site.SiteError) as err:
        asv_site.check_page(newer)
    message = str(err.value)
    assert "asked for, not pinned: https://code.jquery.com/jquery-3.7.1.min.js" in message
    assert "pinned, no longer asked for: https://code.jquery.com/jquery-3.3.1.min.js" in message


def test_publish_refuses_an_unpinned_page(monkeypatch, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    page = (asv_site.asv_www() / "index.html").read_text()
    (www / "index.html").write_text(page.replace("flot/0.8.3", "flot/4.2.6"))
    monkeypatch.setattr(asv_site, "asv_www", lambda: www)
    with pytest.raises(asv_site.SiteError, match=r"flot/4\.2\.6"):
        asv_site.publish(tmp_path / "results", tmp_path / "html", cache=tmp_path / "cache")
    assert not (tmp_path / "html").exists()


def test_an_archive_with_another_checksum_is_refused(monkeypatch, tmp_path):
    pkg = asv_site.PACKAGES[0]

    def download(pkg, into):
        path = into / pkg.archive
        path.write_bytes(b"not the pinned tarball")
        return path

    monkeypatch.setattr(asv_site, "_download", download)
    with pytest.raises(asv_site.SiteError, match="is not the pinned"):
        asv_site.fetch(pkg, tmp_path)
    assert list(tmp_path.iterdir()) == []
    # a cached archive that went bad is fetched again, and refused again
    (tmp_path / pkg.archive).write_bytes(b"changed in the cache")
    with pytest.raises(asv_site.SiteError, match="is not the pinned"):
        asv_site.fetch(pkg, tmp_path)


def test_the_published_page_names_only_local_files(site):
    page = (site / "index.html").read_text()
    assert asv_site.remote_loads(page) == []
    assert '<script src="lone_points.js"' in page
    manifest = json.loads((site / "vendor" / "manifest.json").read_text())
    assert {entry["replaces"] for entry in manifest} == set(asv_site.assets())
    for entry in manifest:
        assert (site / entry["file"]).is_file()
        if entry["same_as_cdn"]:  # the page keeps asv's integrity hash for the browser
            assert f'src="{entry["file"]}" integrity=' in page or (
                f'href="{entry["file"]}" integrity=' in page)


def test_a_run_of_a_commit_the_repository_lacks_is_named_before_asv_runs(tmp_path):
    """asv publish stops with a bare KeyError on such a run; the site names the file."""
    machine = tmp_path / "results" / "some-machine"
    machine.mkdir(parents=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    (machine / "machine.json").write_text("{}")
    (machine / "known.json").write_text(json.dumps({"commit_hash": head}))
    (machine / "gone.json").write_text(json.dumps({"commit_hash": "0" * 40}))
    assert asv_site.unknown_commits(tmp_path / "results") == [(machine / "gone.json", "0" * 40)]
    with pytest.raises(asv_site.SiteError, match=r"gone\.json \(commit 00000000\)"):
        asv_site.publish(tmp_path / "results", tmp_path / "html", cache=tmp_path / "cache")
