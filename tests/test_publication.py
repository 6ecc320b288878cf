"""The consolidation publishes the report and the Data Docs to one store every worker and reader sees.

Two "workers" here are two var folders that share nothing but the warehouse and the publication base
(a ``file://`` folder): one reads and validates, the other loads, builds the report and the Data
Docs, through the consolidation DAG's task functions with explicit settings. The publication layout
(``<base>/<what>/<version>/`` and a ``LATEST`` pointer) is checked directly too: a second publication
replaces the tree wholly, and a publication that fails halfway leaves readers on the previous one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from alliance_finance.config.settings import Settings
from alliance_finance.orchestration import publication
from alliance_finance.orchestration import tasks
from alliance_finance.report import HTML_NAME, WORKBOOK_NAME
from conftest import make_sample_sources


@pytest.fixture(scope="module")
def sample_sources(tmp_path_factory):
    return make_sample_sources(tmp_path_factory, 2014, 2014)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _latest_folder(base: Path, what: str) -> Path:
    name = (base / what / publication.POINTER).read_text().strip()
    return base / what / name


def _settings(sources: Path, warehouse: str, var_dir: Path) -> Settings:
    return Settings.from_environment(warehouse=warehouse, sources_dir=sources, var_dir=var_dir)


@pytest.fixture(autouse=True)
def _no_base_from_the_environment(monkeypatch):
    for name in ("ALLIANCE_PUBLISH_BASE", "AIRFLOW_VAR_ALLIANCE_PUBLISH_BASE", "ALLIANCE_PUBLISH_CONN_ID",
                 "AIRFLOW_VAR_ALLIANCE_PUBLISH_CONN_ID", "ALLIANCE_REPORT_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.slow
@pytest.mark.postgres
def test_report_and_data_docs_built_on_one_worker_from_results_validated_on_another_are_published(
        sample_sources, pg_url, tmp_path, monkeypatch):
    shared = tmp_path / "published"
    monkeypatch.setenv("ALLIANCE_PUBLISH_BASE", shared.as_uri())
    reader = _settings(sample_sources, pg_url, tmp_path / "worker-1")
    loader = _settings(sample_sources, pg_url, tmp_path / "worker-2")
    context = {"run_id": "manual__2026-12-06T20:00:00+00:00"}

    pending = tasks.find_pending("ASC", context, settings=reader)
    staged = tasks.extract_and_validate("ASC", pending, context, settings=reader)
    loaded = tasks.load_staged("ASC", staged, context, settings=loader)
    assert loaded["batches_loaded"] > 200 and not loaded["rejected"], "the sample year loads"
    shared_results = sorted(p.name for p in (shared / tasks.RESULTS / "gx").rglob("*.json"))
    assert shared_results, "the reading worker shares the validation results it stored"

    tasks.refresh_marts(context, settings=loader)
    report = tasks.build_report(context, settings=loader)
    docs = tasks.build_data_docs(context, settings=loader)

    first_report = _latest_folder(shared, "report")
    assert report["worker_local"] is False and report["report"] == f"{shared.as_uri()}/report/{first_report.name}"
    files = _tree(first_report)
    assert files[HTML_NAME].startswith(b"<!") and "ASC" in files[HTML_NAME].decode()
    assert files[WORKBOOK_NAME].startswith(b"PK"), "the workbook is an XLSX (a zip)"
    assert any(name.endswith(".png") and data.startswith(b"\x89PNG") for name, data in files.items())
    assert f"{first_report.name}/index.html" in (shared / "report" / "index.html").read_text()

    site = _latest_folder(shared, "data_docs")
    assert docs["data_docs"].endswith(f"{site.name}/index.html")
    index = (site / "index.html").read_text()
    pages = list((site / "validations").rglob("*.html"))
    assert pages, "the results validated on worker 1 are rendered by worker 2"
    assert any(page.relative_to(site).as_posix() in index for page in pages), "the index links them"
    # nothing of the report or the site was left on the building worker's var folder
    assert not (tmp_path / "worker-2" / "report").exists()
    assert not (tmp_path / "worker-2" / "data_docs" / "index.html").exists()

    # a second consolidation replaces the report wholly: a file only the old version had is not carried over
    (first_report / "stale.png").write_bytes(b"\x89PNG old chart")
    second = tasks.build_report({"run_id": "manual__second"}, settings=loader)
    latest = _latest_folder(shared, "report")
    assert latest != first_report and second["report"].endswith(latest.name)
    assert set(_tree(latest)) == set(files), "the new version holds exactly what the report build wrote"
    assert first_report.is_dir(), "the previous version stays for a reader who is still reading it"

    # the Data Docs' second build starts from the published site and keeps every page
    tasks.build_data_docs({"run_id": "manual__second"}, settings=loader)
    site2 = _latest_folder(shared, "data_docs")
    assert site2 != site
    assert {p.relative_to(site2) for p in (site2 / "validations").rglob("*.html")} >= {
        p.relative_to(site) for p in pages}


def test_without_a_base_the_report_stays_on_the_worker_and_says_so(sqlite_url, tmp_path, caplog):
    settings = Settings.from_environment(warehouse=sqlite_url, var_dir=tmp_path / "var")
    with caplog.at_level("WARNING", logger="alliance_finance.orchestration.tasks"):
        result = tasks.build_report({"run_id": "r"}, settings=settings)
    assert result["worker_local"] is True
    assert (tmp_path / "var" / "report" / HTML_NAME).is_file()
    assert "this worker's disk only" in caplog.text


def _folder(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    folder = tmp_path / name
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def test_a_publication_replaces_the_tree_wholly_and_keeps_only_the_newest_versions(tmp_path):
    target = publication.as_base(tmp_path / "store") / "report"
    one = _folder(tmp_path, "one", {"index.html": "1", "a.png": "a", "static/x.css": "x"})
    two = _folder(tmp_path, "two", {"index.html": "2", "b.png": "b"})
    first = publication.publish_tree(one, target, publication.version_name("run/1"))
    assert _tree(_latest_folder(tmp_path / "store", "report")) == _tree(one)
    second = publication.publish_tree(two, target, publication.version_name("run/2"))
    assert first.name < second.name
    assert _tree(_latest_folder(tmp_path / "store", "report")) == _tree(two), "nothing of version one mixed in"
    assert publication.latest(target) == second

    for n in range(3, 7):
        publication.publish_tree(two, target, publication.version_name(f"run/{n}"))
    names = publication.versions(target)
    assert len(names) == publication.KEEP and names[-1] == publication.latest(target).name
    assert first.name not in names and second.name not in names
    leftovers = [p.name for p in (tmp_path / "store" / "report").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], "the pointer's temporary file is renamed over, never left behind"


def test_a_publication_that_fails_halfway_leaves_readers_on_the_previous_complete_version(tmp_path, monkeypatch):
    target = publication.as_base(tmp_path / "store") / "data_docs"
    good = _folder(tmp_path, "good", {"index.html": "good", "validations/a.html": "a", "static/s.css": "s"})
    before = publication.publish_tree(good, target, publication.version_name("good"))
    redirect = (tmp_path / "store" / "data_docs" / "index.html").read_text()
    bigger = _folder(tmp_path, "bigger", {"index.html": "new", "validations/a.html": "a2", "validations/b.html": "b",
                                          "static/s.css": "s2"})
    put_file = LocalFileSystem.put_file
    calls = []

    def fails_on_the_third_file(self, lpath, rpath, **kwargs):
        calls.append(rpath)
        if len(calls) == 3:
            raise OSError("No space left on device")
        return put_file(self, lpath, rpath, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "put_file", fails_on_the_third_file)
    with pytest.raises(OSError, match="No space"):
        publication.publish_tree(bigger, target, publication.version_name("bigger"))
    monkeypatch.undo()

    assert len(calls) == 3, "the failure came halfway through the upload"
    assert publication.latest(target) == before, "LATEST still names the complete version"
    assert _tree(_latest_folder(tmp_path / "store", "data_docs")) == _tree(good)
    assert (tmp_path / "store" / "data_docs" / "index.html").read_text() == redirect

    # the half version is never pointed to, and later publications remove it
    half = [n for n in publication.versions(target) if n.endswith("-bigger")]
    assert len(half) == 1
    for n in range(publication.KEEP):
        publication.publish_tree(bigger, target, publication.version_name(f"later-{n}"))
    assert half[0] not in publication.versions(target)
    assert _tree(_latest_folder(tmp_path / "store", "data_docs")) == _tree(bigger)


def test_shared_results_are_added_not_replaced_and_half_written_files_are_skipped(tmp_path):
    remote = publication.as_base(tmp_path / "store") / "validation_results"
    worker1 = _folder(tmp_path, "w1", {"gx/s/r1.json": "{1}", "batches/1.json": "{}", "batches/2.json.tmp": "{"})
    worker2 = _folder(tmp_path, "w2", {"gx/s/r2.json": "{2}"})
    assert publication.sync_up(worker1, remote) == 2
    assert publication.sync_up(worker1, remote) == 0, "a rerun adds nothing"
    assert publication.sync_up(worker2, remote) == 1
    builder = tmp_path / "builder"
    assert publication.sync_down(remote, builder) == 3
    assert set(_tree(builder)) == {"gx/s/r1.json", "gx/s/r2.json", "batches/1.json"}


def test_a_base_whose_filesystem_is_not_installed_is_refused_naming_what_to_install(sqlite_url, tmp_path,
                                                                                   monkeypatch):
    with pytest.raises(ValueError, match=r"s3://.*apache-airflow-providers-amazon\[s3fs\]"):
        publication.as_base("s3://alliance-bucket/published")
    monkeypatch.setenv("ALLIANCE_PUBLISH_BASE", "s3://alliance-bucket/published")
    settings = Settings.from_environment(warehouse=sqlite_url, var_dir=tmp_path / "var")
    with pytest.raises(ValueError, match="publication base"):
        tasks.build_report({"run_id": "r"}, settings=settings)
    (tmp_path / "var" / "data_docs" / "results").mkdir(parents=True)
    assert tasks.share_validation_results(settings) == 0, "extract_and_validate is not failed by it"
