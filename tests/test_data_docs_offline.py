"""Data Docs that work offline: a built site loads no script, style or font from the internet, and
every asset it loads is in the site, byte for byte the pinned copy the manifest names.

(The manual check in a headless Chromium with the network off is described in docs/validation.md.)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from alliance_finance.validation import Validator
from alliance_finance.validation.data_docs import ASSETS_DIR, VENDOR, asset_manifest, asset_path

from batch_fixtures import asc_batch, balanced_document, happy_asc

#: what makes a browser fetch something: <script src>, <link href>, <img src>, CSS url() and @import
REFERENCES = re.compile(
    r"""<(?:script|img)[^>]*\ssrc=["']([^"']+)["']|<link[^>]*\shref=["']([^"']+)["']"""
    r"""|url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def references(path: Path) -> list[str]:
    return [next(g for g in match.groups() if g) for match in REFERENCES.finditer(path.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    docs = tmp_path_factory.mktemp("offline") / "data_docs"
    with Validator(docs) as validator:
        validator.validate([happy_asc("ASC_GL_20160404_001.csv"),
                            asc_batch(balanced_document("1000000001", 1000, period=17))])
    return docs


def test_the_vendored_copies_are_the_manifests():
    assets = asset_manifest()["assets"]
    assert assets
    for asset in assets:
        assert asset["source"] == ("https://registry.npmjs.org/" + asset["package"] + "/-/"
                                   + asset["package"].rsplit("/", 1)[-1] + f"-{asset['version']}.tgz")
        assert sha256(ASSETS_DIR / asset_path(asset)) == asset["sha256"], asset_path(asset)


def test_a_built_site_loads_nothing_from_the_internet(site):
    files = [p for p in site.rglob("*") if p.suffix in (".html", ".css")]
    assert len([p for p in files if p.suffix == ".html"]) >= 8  # index, 3 results, 4 suites
    remote = {f"{p.relative_to(site)}: {ref}" for p in files for ref in references(p)
              if re.match(r"(https?:)?//", ref)}
    assert not remote


def test_every_local_asset_a_page_loads_is_there_and_pinned(site):
    by_path = {(VENDOR / asset_path(a)).as_posix(): a["sha256"] for a in asset_manifest()["assets"]}
    used = set()
    for page in [p for p in site.rglob("*") if p.suffix in (".html", ".css")]:
        for ref in references(page):
            if ref.startswith(("data:", "#")):
                continue
            target = (page.parent / ref.split("?")[0].split("#")[0]).resolve()
            assert target.is_file(), f"{page.relative_to(site)} loads {ref}, which is not in the site"
            relative = target.relative_to(site.resolve()).as_posix()
            if relative.startswith(VENDOR.as_posix()):
                assert sha256(target) == by_path[relative], relative
                used.add(relative)
    # every vendored file is used: the CDN files by the pages, the fonts by the vendored CSS
    assert used == set(by_path)


def test_the_results_page_scripts_are_loaded_without_cdn_attributes(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'src="static/vendor/jquery@3.7.1/dist/jquery.min.js"' in index
    assert "integrity=" not in index and "crossorigin=" not in index  # would block a file:// script
    assert "amazonaws.com" not in index  # GX's logo (with the context's id) comes from the site


def test_a_site_built_before_vendoring_is_made_local_once(site):
    from alliance_finance.validation.data_docs import localise_site

    page = site / "expectations" / "asc_sap_raw.html"
    text = page.read_text(encoding="utf-8")
    cdn = '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    page.write_text(text.replace('<script src="../static/vendor/jquery@3.7.1/dist/jquery.min.js"></script>', cdn),
                    encoding="utf-8")
    (site / VENDOR / ".offline-pages").unlink()
    localise_site(site, [])
    assert page.read_text(encoding="utf-8") == text
