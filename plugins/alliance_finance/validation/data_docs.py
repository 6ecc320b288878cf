"""What a Validator leaves on disk for people: each call's verdicts as JSON and the GX Data Docs site.

Under ``data_docs_dir``: ``results/batches/<time>-<batches>.json`` (every batch's verdict of one
call), ``results/gx/`` (GX's stored results) and the site (``index.html``, ``validations/``...).
Building the site renders only what is asked (a call's results, the suites' pages when a suite or
GX changed since they were rendered) and the index, so its cost follows what is new, not the years
of history.

GX's pages load their scripts, styles and fonts from public CDNs, so offline (a police network) the
index shows no results. After each build the copies vendored in ``data_docs_assets/`` (pinned, from
the npm registry; ``manifest.json`` lists them, ``scripts/vendor_data_docs_assets.py`` checks them)
go to ``<site>/static/vendor/`` and the pages rendered by that build link to them by relative path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from alliance_finance.validation.results import BatchValidation


def write_verdicts(data_docs_dir: Path, results: list[BatchValidation], run_label: str,
                   started: dt.datetime) -> Path:
    """One call's verdicts, written atomically (a reader never sees half a file)."""
    folder = Path(data_docs_dir) / "results" / "batches"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{started:%Y%m%dT%H%M%S%f}Z-{run_label}.json"
    document = {"validated_at": started.isoformat(), "batches": [r.to_dict() for r in results]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


#: per suite, the digest of the suite (as applied) its page was last rendered from (:func:`suite_digests`)
_SUITE_DIGESTS = Path("expectations") / ".alliance-suite-digests.json"


def suite_digests(suites_dir: Path, names: Iterable[str], renderer: str) -> dict[str, str]:
    """Per suite, a digest of what its Data Docs page is rendered from: the suite's JSON as the run
    applies it (``suites_dir/<name>.json``) and ``renderer`` (GX's version)."""
    digests = {}
    for name in names:
        digest = hashlib.sha256(renderer.encode())
        digest.update((Path(suites_dir) / f"{name}.json").read_bytes())
        digests[name] = digest.hexdigest()
    return digests


def _rendered_suite_digests(site: Path) -> dict[str, str]:
    """The digests recorded for the site's suite pages (none: nothing recorded, or unreadable)."""
    try:
        return json.loads((site / _SUITE_DIGESTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def stale_suite_pages(data_docs_dir: Path, digests: dict[str, str]) -> list[str]:
    """The suites whose page is missing or was rendered from another suite or GX version."""
    site = Path(data_docs_dir).resolve()
    rendered = _rendered_suite_digests(site)
    return [name for name, digest in digests.items()
            if rendered.get(name) != digest or not (site / "expectations" / f"{name}.html").is_file()]


def _record_suite_pages(site: Path, digests: dict[str, str]) -> None:
    recorded = _rendered_suite_digests(site)
    recorded.update(digests)
    path = site / _SUITE_DIGESTS
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(recorded, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def build_pages(context, data_docs_dir: Path, result_keys: Iterable, suites: Iterable[str],
                suite_digests: dict[str, str] | None = None) -> Path:
    """Render ``result_keys``' pages, ``suites``' pages and the index (always: it lists the latest
    stored results, 60 of them: ``validation_results_limit`` in great_expectations.yml); returns
    ``index.html``. ``suite_digests`` (of the suites rendered) are recorded once the pages are
    written, for :func:`stale_suite_pages`."""
    # deferred on purpose: Great Expectations takes seconds to import (the caller has already)
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    site = Path(data_docs_dir).resolve()
    result_keys = list(result_keys)
    suites = list(suites)
    identifiers = result_keys + [ExpectationSuiteIdentifier(name=name) for name in suites]
    # an empty list would mean "everything" to GX: a key nothing matches renders only the index
    context.build_data_docs(site_names=["local_site"],
                            resource_identifiers=identifiers or [ExpectationSuiteIdentifier(name="-")])
    rendered = [_page(site / "validations", key) for key in result_keys]
    rendered += [site / "expectations" / f"{name}.html" for name in suites]
    localise_site(site, rendered + [site / "index.html"])
    if suites and suite_digests:
        _record_suite_pages(site, {name: suite_digests[name] for name in suites})
    return site / "index.html"


# --- offline: the CDN assets vendored into the site -----------------------------------------------

ASSETS_DIR = Path(__file__).resolve().parent / "data_docs_assets"
VENDOR = Path("static") / "vendor"  # inside the site
#: GX's logo is fetched from its S3 bucket with the context's id in the query string; the same
#: image ships in GX's static/images, which every build copies into the site
_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/"
                   r"(?:logo-long|full_logo_dark)\.png[^\"')\s]*")
#: what browsers need to load a script from a CDN; on a local file the CORS check would block it
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
_TO_STATIC = re.compile(r"""(["'(])(?:\.\./)+static/""")
#: marks a site whose every page has been made local (later builds then touch only their own pages)
_DONE = ".offline-pages"


@lru_cache(maxsize=1)
def asset_manifest() -> dict:
    return json.loads((ASSETS_DIR / "manifest.json").read_text(encoding="utf-8"))


def asset_path(asset: dict) -> Path:
    """Where a manifest entry is, relative to ``data_docs_assets/`` and to ``<site>/static/vendor/``."""
    return Path(f"{asset['package']}@{asset['version']}") / asset["file"]


def localise_site(site: Path, pages: Iterable[Path] | None = None) -> None:
    """Copy the vendored assets into ``site`` (once; again if one is missing or changed size) and
    point ``pages`` (default: every page of the site) at them. The first call on a site made before
    this existed rewrites every page, once."""
    site = Path(site)
    for asset in asset_manifest()["assets"]:
        source, target = ASSETS_DIR / asset_path(asset), site / VENDOR / asset_path(asset)
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    done = site / VENDOR / _DONE
    if pages is None or not done.is_file():
        pages = [p for p in site.rglob("*.html") if VENDOR not in p.relative_to(site).parents]
    for page in pages:
        if page.is_file():
            _localise_page(site, page)
    for stylesheet in (site / "static" / "styles").glob("*.css"):
        _localise_page(site, stylesheet)
    done.touch()


def _localise_page(site: Path, page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if "https://" not in text:
        return
    up = os.path.relpath(site, page.parent).replace(os.sep, "/")
    to_root = "" if up == "." else f"{up}/"
    to_vendor = f"{to_root}{VENDOR.as_posix()}"
    changed = text
    for asset in asset_manifest()["assets"]:
        for url in asset["urls"]:
            if url in changed:
                local = f"{to_vendor}/{asset_path(asset).as_posix()}"
                changed = re.sub(rf'(<[^>]*)"{re.escape(url)}"([^>]*>)',
                                 lambda m, local=local: f'{_SRI.sub("", m.group(1))}"{local}"{_SRI.sub("", m.group(2))}',
                                 changed)
    changed = _LOGO.sub(f"{to_root}static/images/logo-long.png", changed)
    # GX links a result page's favicon one folder short (../../../static on a page four deep)
    changed = _TO_STATIC.sub(lambda m: f"{m.group(1)}{to_root}static/", changed)
    if changed != text:
        tmp = page.with_name(page.name + ".tmp")
        tmp.write_text(changed, encoding="utf-8")
        tmp.replace(page)


def _page(folder: Path, key) -> Path:
    *folders, name = key.to_tuple()
    return folder.joinpath(*folders, f"{name}.html")


def unrendered_results(context, data_docs_dir: Path) -> list:
    """The stored results that have no Data Docs page yet."""
    pages = Path(data_docs_dir).resolve() / "validations"
    return [key for key in context.validation_results_store.list_keys() if not _page(pages, key).is_file()]
