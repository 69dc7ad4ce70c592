"""The asv site of the suite, published to work offline, and served on 127.0.0.1.

asv 0.6's ``index.html`` loads jQuery, flot and three of its plug-ins, stupidtable,
blueimp-md5 and bootstrap from public CDNs; without them the page shows only "Can not
determine continental origin of swallow". ``make publish`` runs ``asv publish`` and then
serves every one of those files from the site itself:

* each library comes from a package registry, pinned to exactly the version asv's page
  asks for and verified against a checksum recorded here (:data:`PACKAGES`): the npm
  packages of jQuery, flot, flot-orderbars, blueimp-md5 and bootstrap (the registry's
  sha512 integrity of the tarball), and stupidtable 1.0.1, which was never published
  to npm (its npm package starts at 1.1.3), from the source distribution of asv 0.5.1
  on PyPI, which shipped that very file (sha256 of the archive);
* where the registry's file is byte for byte the file asv's page names (jQuery,
  flot-orderbars, blueimp-md5, bootstrap), the page's own ``integrity`` hash is checked
  against it and kept, so the browser checks it again; flot's npm package holds the
  unminified sources of 0.8.3, which are served as they are;
* the tarballs are kept in a cache outside the repository
  (``$CONVBENCH_SITE_CACHE``, default ``~/.cache/convbench/site-libs``) and checked
  against their checksums every time they are used;
* the CDN addresses in the published ``index.html`` are rewritten to ``vendor/...``
  and the site is checked to load nothing from elsewhere.

If asv's page asks for anything other than the pinned files (a new asv with other
versions), :func:`check_page` fails, loudly, before anything is published.

The site also gets one small flot plug-in of its own (``lone_points.js`` beside this
script): a series with a single point is drawn as a dot. The benchmark grid draws
lines only, so a benchmark with one comparable run (a new benchmark, or one whose
code changed, since asv sets aside results of other code versions) would otherwise
show an empty box.

Usage::

    python scripts/asv_site.py publish          # make publish: .asv/html
    python scripts/asv_site.py serve            # make preview: http://127.0.0.1:8080/
    python scripts/asv_site.py check            # asv's page against the pins
    python scripts/asv_site.py fetch            # the libraries into the cache
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import html as html_lib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The site's own flot plug-in (see the module docstring).
LONE_POINTS = Path(__file__).resolve().parent / "lone_points.js"
#: asv publish with the accuracy tracks' absolute floor on regressions.
ASV_PUBLISH = Path(__file__).resolve().parent / "asv_publish.py"
#: Folder of the published site that holds the libraries.
VENDOR = "vendor"


class SiteError(RuntimeError):
    """The site cannot be published as promised (unpinned library, bad checksum, ...)."""


@dataclass(frozen=True)
class Asset:
    """One file asv's page loads from a CDN, and where the package holds it.

    Attributes
    ----------
    url : str
        The address exactly as asv's ``index.html`` writes it.
    member : str
        The file's path inside the package archive.
    exact : bool
        Whether the file is byte for byte the CDN's (then asv's ``integrity`` hash must
        match it, and is kept in the published page).
    """

    url: str
    member: str
    exact: bool


@dataclass(frozen=True)
class Package:
    """A pinned package of a registry that holds some of the site's libraries.

    Attributes
    ----------
    registry : str
        ``"npm"`` (fetched with ``npm pack``) or ``"pypi"`` (``pip download``, sdist).
    name, version : str
        The package, pinned.
    checksum : str
        Of the archive: ``sha512-<base64>`` (npm's integrity) or ``sha256:<hex>``.
    library : str
        The library and version it provides, as asv's page asks for it.
    assets : tuple of Asset
        The files asv's page loads.
    extra : tuple of str
        Other members the assets refer to (bootstrap's fonts).
    """

    registry: str
    name: str
    version: str
    checksum: str
    library: str
    assets: tuple[Asset, ...]
    extra: tuple[str, ...] = field(default=())

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}" if self.registry == "npm" else (
            f"{self.name}=={self.version}")

    @property
    def archive(self) -> str:
        return f"{self.name}-{self.version}" + (".tgz" if self.registry == "npm" else ".tar.gz")

    @property
    def folder(self) -> str:
        return f"{VENDOR}/{self.registry}-{self.name}-{self.version}"


_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net/npm"
_FONTS = tuple(
    f"package/dist/fonts/glyphicons-halflings-regular.{ext}"
    for ext in ("eot", "svg", "ttf", "woff")
)

#: Every library asv 0.6's page loads, pinned. Change only with asv's page (``check``).
PACKAGES: tuple[Package, ...] = (
    Package(
        "npm", "jquery", "3.3.1",
        "sha512-Ubldcmxp5np52/ENotGxlLe6aGMvmF4R8S6tZjsP6Knsaxd/xp3Zrh50cG93lR6nPXyUFwzN3ZSOQI0wRJNdGg==",
        "jQuery 3.3.1",
        (Asset("https://code.jquery.com/jquery-3.3.1.min.js", "package/dist/jquery.min.js", True),),
    ),
    Package(
        "npm", "flot", "0.8.3",
        "sha512-xg2otcTJDvS+ERK+my4wxG/ASq90QURXtoM4LhacCq0jQW2jbyjdttbRNqU2cPykrpMvJ6b2uSp6SAgYAzj9tQ==",
        "flot 0.8.3",
        tuple(
            Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot{part}.min.js",
                  f"package/jquery.flot{part}.js", False)
            for part in ("", ".time", ".selection", ".categories")
        ),
    ),
    Package(
        "npm", "flot-orderbars", "1.0.0",
        "sha512-Jv51fvzevUjNXEeozpwEKfPjhiZhfiJddv0WHjduUTCmSF+7T5K7C9c9Y1wIVmUhDBv5fLMjgbwKecT0GIKPZA==",
        "flot-orderbars 1.0.0",
        (Asset(f"{_JSDELIVR}/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js",
               "package/js/jquery.flot.orderBars.js", True),),
    ),
    Package(
        "pypi", "asv", "0.5.1",
        "sha256:805fc3cc46c0bcf3e7baeaa16a12e4b92f1276c25490db4cb80fc541afa52bfc",
        "stupidtable 1.0.1",
        (Asset(f"{_CDNJS}/stupidtable/1.0.1/stupidtable.min.js",
               "asv-0.5.1/asv/www/vendor/stupidtable.js", False),),
    ),
    Package(
        "npm", "blueimp-md5", "2.19.0",
        "sha512-DRQrD6gJyy8FbiE4s+bDoXS9hiW3Vbx5uCdwvcCf3zLHL+Iv7LtGHLpr+GZV8rHG8tK766FGYBwRbu8pELTt+w==",
        "blueimp-md5 2.19.0",
        (Asset(f"{_CDNJS}/blueimp-md5/2.19.0/js/md5.min.js", "package/js/md5.min.js", True),),
    ),
    Package(
        "npm", "bootstrap", "3.1.1",
        "sha512-TAzqS8E/ISpVHP29gYhy+1NSV+FJwApDVQhDfgLYsIuUDJiqJzH2DfORN5tiu+Ie2iBLrzEG34t4Rf465cigqg==",
        "bootstrap 3.1.1",
        (
            Asset(f"{_JSDELIVR}/bootstrap@3.1.1/dist/js/bootstrap.min.js",
                  "package/dist/js/bootstrap.min.js", True),
            Asset(f"{_JSDELIVR}/bootstrap@3.1.1/dist/css/bootstrap.min.css",
                  "package/dist/css/bootstrap.min.css", True),
        ),
        _FONTS,
    ),
)

_TAG = re.compile(r"<(script|link)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')
_REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)


def asv_www() -> Path:
    """The folder of asv's page templates (``index.html`` and its scripts)."""
    import asv

    return Path(asv.__file__).resolve().parent / "www"


def assets() -> dict[str, tuple[Package, Asset]]:
    """Every pinned asset by its CDN address."""
    return {asset.url: (pkg, asset) for pkg in PACKAGES for asset in pkg.assets}


def remote_loads(page: str) -> list[tuple[str, dict[str, str]]]:
    """``(url, attributes)`` of every ``<script src>`` and ``<link href>`` of ``page``
    that points off the site (``http://``, ``https://`` or ``//``)."""
    found = []
    for match in _TAG.finditer(page):
        attrs = {k.lower(): v for k, v in _ATTR.findall(match.group(0))}
        url = attrs.get("src" if match.group(1).lower() == "script" else "href", "")
        if _REMOTE.match(url):
            found.append((url, attrs))
    return found


def check_page(page: str, source: str = "asv's index.html") -> None:
    """Fail unless ``page`` loads from elsewhere exactly the pinned files.

    Raises
    ------
    SiteError
        Naming every address asv asks for that is not pinned, and every pin asv no
        longer asks for.
    """
    asked = {url for url, _ in remote_loads(page)}
    pinned = set(assets())
    if asked == pinned:
        return
    lines = [f"{source} does not ask for the libraries pinned in scripts/asv_site.py."]
    for url in sorted(asked - pinned):
        lines.append(f"  asked for, not pinned: {url}")
    for url in sorted(pinned - asked):
        lines.append(f"  pinned, no longer asked for: {url}")
    lines.append(
        "Pin each new version in PACKAGES (package, version and the registry's checksum) "
        "and check the published site in a browser (make test) before publishing."
    )
    raise SiteError("\n".join(lines))


def cache_dir() -> Path:
    """Where the registry archives are kept (outside the repository)."""
    explicit = os.environ.get("CONVBENCH_SITE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "convbench" / "site-libs"


def digest(path: Path, checksum: str) -> str:
    """The checksum of ``path`` in the form of ``checksum`` (``sha512-...``/``sha256:...``)."""
    if checksum.startswith("sha256:"):
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    algo = checksum.split("-", 1)[0]
    raw = hashlib.new(algo, path.read_bytes()).digest()
    return f"{algo}-{base64.b64encode(raw).decode()}"


def _download(pkg: Package, into: Path) -> Path:
    """Fetch ``pkg``'s archive from its registry into the folder ``into``."""
    if pkg.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise SiteError("npm is not installed: `make site-tools` installs it")
        cmd = [npm, "pack", pkg.spec, "--pack-destination", str(into), "--ignore-scripts",
               "--json"]
        env = {**os.environ, "npm_config_update_notifier": "false",
               "npm_config_fund": "false", "npm_config_audit": "false"}
    else:
        cmd = [sys.executable, "-m", "pip", "download", pkg.spec, "--no-deps",
               "--no-binary", ":all:", "--dest", str(into), "--quiet",
               "--disable-pip-version-check"]
        env = dict(os.environ)
    done = subprocess.run(cmd, cwd=into, env=env, capture_output=True, text=True)
    path = into / pkg.archive
    if done.returncode != 0 or not path.is_file():
        raise SiteError(
            f"could not fetch {pkg.spec} from {pkg.registry} ({' '.join(cmd[:3])} ...):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return path


def fetch(pkg: Package, cache: Path | None = None) -> Path:
    """The verified archive of ``pkg`` in the cache, fetched from its registry if needed.

    Raises
    ------
    SiteError
        If the archive cannot be fetched or its checksum is not the pinned one (the
        file is then removed).
    """
    cache = cache_dir() if cache is None else cache
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pkg.archive
    if path.is_file() and digest(path, pkg.checksum) == pkg.checksum:
        return path
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        fetched = _download(pkg, Path(tmp))
        got = digest(fetched, pkg.checksum)
        if got != pkg.checksum:
            raise SiteError(
                f"{pkg.spec} from {pkg.registry}: checksum {got}\n"
                f"  is not the pinned {pkg.checksum}; not used"
            )
        os.replace(fetched, path)
    return path


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        handle = archive.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise SiteError(f"{archive.name}: no file {name}")
    return handle.read()


def _sri(data: bytes, integrity: str) -> bool:
    algo, _, want = integrity.partition("-")
    return base64.b64encode(hashlib.new(algo, data).digest()).decode() == want


def vendor(site: Path, page: str, cache: Path | None = None) -> dict[str, tuple[str, bool]]:
    """Copy every pinned library into ``site/vendor``.

    Parameters
    ----------
    site : Path
        The published site.
    page : str
        asv's ``index.html`` as published (for the ``integrity`` hashes it names).
    cache : Path, optional
        The archive cache (default :func:`cache_dir`).

    Returns
    -------
    dict
        ``{cdn_url: (local_path, keep_integrity)}`` for :func:`rewrite`.

    Raises
    ------
    SiteError
        If a file said to be the CDN's does not match asv's integrity hash.
    """
    integrity = {url: attrs.get("integrity", "") for url, attrs in remote_loads(page)}
    mapping: dict[str, tuple[str, bool]] = {}
    manifest = []
    for pkg in PACKAGES:
        archive_path = fetch(pkg, cache)
        top = "package/" if pkg.registry == "npm" else f"{pkg.name}-{pkg.version}/"
        with tarfile.open(archive_path) as archive:
            members = [(a.member, a) for a in pkg.assets] + [(m, None) for m in pkg.extra]
            for member, asset in members:
                data = _member(archive, member)
                local = f"{pkg.folder}/{member.removeprefix(top)}"
                target = site / local
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                if asset is None:
                    continue
                keep = False
                if asset.exact:
                    sri = integrity.get(asset.url, "")
                    if not sri or not _sri(data, sri):
                        raise SiteError(
                            f"{pkg.spec}: {member} is not the file asv's page names "
                            f"({asset.url}, integrity {sri or 'none'})"
                        )
                    keep = True
                mapping[asset.url] = (local, keep)
                manifest.append({
                    "file": local, "replaces": asset.url, "library": pkg.library,
                    "package": f"{pkg.registry}:{pkg.spec}", "archive_checksum": pkg.checksum,
                    "sha256": hashlib.sha256(data).hexdigest(), "same_as_cdn": asset.exact,
                })
    (site / VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return mapping


def rewrite(page: str, mapping: dict[str, tuple[str, bool]],
            extra_scripts: tuple[str, ...] = ()) -> str:
    """``page`` with every CDN address replaced by its local copy.

    A tag keeps its ``integrity`` (and ``crossorigin``) where the local file is the
    CDN's; otherwise those attributes, and ``referrerpolicy``, are dropped.
    ``extra_scripts`` (site-relative paths) are loaded at the end of ``<head>``, after
    the libraries and before the page's scripts run (they start on document ready).
    """
    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        kind = match.group(1).lower()
        attrs = dict(_ATTR.findall(tag))
        key = "src" if kind == "script" else "href"
        url = attrs.get(key, "")
        if url not in mapping:
            return tag
        local, keep = mapping[url]
        attrs[key] = local
        if not keep:
            for name in ("integrity", "crossorigin", "referrerpolicy"):
                attrs.pop(name, None)
        body = " ".join(f'{name}="{html_lib.escape(value, quote=True)}"'
                        for name, value in attrs.items())
        return f"<{kind} {body}>"

    out = _TAG.sub(replace, page)
    if extra_scripts:
        tags = "".join(
            f'    <script src="{src}" onerror="js_load_failure()"></script>\n'
            for src in extra_scripts
        )
        head, sep, tail = out.partition("</head>")
        if not sep:
            raise SiteError("the page has no </head>")
        out = f"{head}{tags}  {sep}{tail}"
    return out


def check_local_only(site: Path) -> None:
    """Fail if any page, script or stylesheet of ``site`` loads anything from elsewhere."""
    bad = []
    for path in sorted(site.rglob("*.html")):
        for url, _ in remote_loads(path.read_text(errors="replace")):
            bad.append(f"{path.relative_to(site)}: {url}")
    for path in sorted(site.rglob("*.css")):
        for url in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", path.read_text(
                errors="replace")):
            bad.append(f"{path.relative_to(site)}: {url}")
    if bad:
        raise SiteError("the site still loads from elsewhere:\n  " + "\n  ".join(bad))


def _asv_config(results: Path | None, html: Path | None, work: Path) -> Path:
    """The suite's asv config, with ``results_dir``/``html_dir`` replaced if given."""
    conf_path = ROOT / "asv.conf.json"
    if results is None and html is None:
        return conf_path
    from asv import util

    conf = util.load_json(str(conf_path), js_comments=True)
    conf["repo"] = str(ROOT)
    conf["benchmark_dir"] = str(ROOT / conf.get("benchmark_dir", "benchmarks"))
    conf["env_dir"] = str(work / "env")
    conf["results_dir"] = str((results or ROOT / conf["results_dir"]).resolve())
    conf["html_dir"] = str((html or ROOT / conf["html_dir"]).resolve())
    path = work / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def html_dir_of(config: Path) -> Path:
    """The ``html_dir`` an asv config names (relative to the config's folder)."""
    from asv import util

    conf = util.load_json(str(config), js_comments=True)
    return (config.parent / conf.get("html_dir", "html")).resolve()


def unknown_commits(results: Path, repo: Path = ROOT) -> list[tuple[Path, str]]:
    """The results files of ``results/<machine>/`` whose commit ``repo`` does not have.

    asv publish looks every run's commit up among the commits of every branch and stops
    with a bare ``KeyError`` on one it cannot find (a run of a commit later rebased away,
    or of a branch not fetched here). Returns ``(file, commit)`` for each such run.
    """
    known = set(subprocess.run(["git", "rev-list", "--all"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.split())
    missing = []
    for path in sorted(results.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        try:
            commit = json.loads(path.read_text()).get("commit_hash")
        except (OSError, ValueError, AttributeError):
            continue  # not a run (asv skips it too)
        if isinstance(commit, str) and commit not in known:
            missing.append((path, commit))
    return missing


def publish(results: Path | None = None, html: Path | None = None,
            cache: Path | None = None, quiet: bool = False) -> Path:
    """``asv publish``, then the libraries served from the site itself.

    Parameters
    ----------
    results : Path, optional
        asv results folder to publish (default: the config's ``results/``).
    html : Path, optional
        Where to write the site (default: the config's ``.asv/html``).
    cache : Path, optional
        The archive cache (default :func:`cache_dir`).
    quiet : bool
        Hide asv's progress output (shown if it fails).

    Returns
    -------
    Path
        The site's folder.
    """
    missing = unknown_commits(results or ROOT / "results")
    if missing:
        listed = "\n".join(f"  {path} (commit {commit[:8]})" for path, commit in missing)
        raise SiteError(
            f"{len(missing)} result file(s) name a commit this repository does not have; "
            f"asv cannot place them on its graphs. Fetch the commit, or move the "
            f"file(s) out of results/:\n{listed}"
        )
    template = asv_www() / "index.html"
    check_page(template.read_text(), f"{template}")
    for pkg in PACKAGES:
        fetch(pkg, cache)
    with tempfile.TemporaryDirectory() as tmp:
        config = _asv_config(results, html, Path(tmp))
        site = html_dir_of(config)
        done = subprocess.run(
            # asv's publish, with the accuracy tracks' absolute floor (asv_publish.py)
            [sys.executable, str(ASV_PUBLISH), "--config", str(config), "publish", "--no-pull"],
            cwd=ROOT, capture_output=quiet, text=True,
        )
        if done.returncode != 0:
            output = f"\n{done.stdout}{done.stderr}" if quiet else ""
            raise SiteError(f"asv publish failed (exit {done.returncode}){output}")
    index = site / "index.html"
    page = index.read_text()
    check_page(page, str(index))
    mapping = vendor(site, page, cache)
    shutil.copy2(LONE_POINTS, site / LONE_POINTS.name)
    index.write_text(rewrite(page, mapping, (LONE_POINTS.name,)))
    check_local_only(site)
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(site: Path, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``site`` on ``host`` (127.0.0.1) in a background thread; yields its address."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str] | None = None) -> int:
    """Command line: ``check``, ``fetch``, ``publish``, ``serve``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="asv's page against the pinned libraries")
    sub.add_parser("fetch", help="the pinned libraries into the cache, verified")
    pub = sub.add_parser("publish", help="asv publish, libraries served from the site")
    pub.add_argument("--results", type=Path, help="asv results folder (default results/)")
    pub.add_argument("--html", type=Path, help="site folder (default .asv/html)")
    srv = sub.add_parser("serve", help="serve the published site on 127.0.0.1")
    srv.add_argument("--html", type=Path, default=None, help="site folder (default .asv/html)")
    srv.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            template = asv_www() / "index.html"
            check_page(template.read_text(), str(template))
            print(f"{template}: asks for exactly the {len(assets())} pinned files")
        elif args.command == "fetch":
            for pkg in PACKAGES:
                print(f"{pkg.registry}:{pkg.spec:24s} {fetch(pkg)} ({pkg.library})")
        elif args.command == "publish":
            site = publish(args.results, args.html)
            print(f"site written to {site}; every script and stylesheet served from it")
            print("view it with: make preview")
        else:
            site = args.html or html_dir_of(ROOT / "asv.conf.json")
            if not (site / "index.html").is_file():
                raise SiteError(f"no site in {site}: run `make publish` first")
            with serving(site, args.port) as url:
                print(f"Serving {site} at {url} (Ctrl-C stops)", flush=True)
                try:
                    threading.Event().wait()
                except KeyboardInterrupt:
                    pass
    except SiteError as exc:
        print(f"asv_site: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
