"""Bad input: every entry of tests/bad_input_corpus.py through the real pipeline into a real warehouse.

Each case starts from a warehouse that already holds a good ASC delivery and a good WP journal (a
copy of one template per dialect: PostgreSQL ``CREATE DATABASE ... TEMPLATE``, a copied SQLite file),
writes its defect into a fresh source folder, and runs ``pipeline.run_force`` with the real Great
Expectations validator (one, shared by the module). After every pass the warehouse must be sound
(``checksums.row_accounting_problems``) and the good delivery and journal untouched; after the last,
the outcome the corpus names: rejected or refused with a message naming the file, line or journal and
what was expected and found; ignored with a warning naming the file; loaded as data, texts verbatim;
or the bad journal quarantined whole while the rest loads.
"""

from __future__ import annotations

import logging
import shutil
import uuid

import pytest
import sqlalchemy as sa

from alliance_finance.runner import pipeline
from alliance_finance.core.errors import AllianceFinanceError
from alliance_finance.warehouse.engine import make_engine
from bad_input_corpus import CORPUS, DAY, Defect, Sources, baseline, rows
from checksums import assert_sound, fact_checksum
from conftest import PG_ADMIN_URL, _pg_admin, drop_pg_database, new_pg_database

pytestmark = pytest.mark.slow

#: how long a message about a bad file may be: it names the problem, not the whole file
MESSAGE_LIMIT = 4_000


class ReadersOnly:
    def validate(self, batches):
        return [None for _ in batches]


@pytest.fixture(scope="module")
def validator():
    from alliance_finance.validation import Validator

    with Validator() as shared:
        yield shared


class Templates:
    """A warehouse per dialect at head, holding the baseline delivery and journal, to copy per case."""

    def __init__(self, tmp_path_factory):
        folder = tmp_path_factory.mktemp("templates")
        sources = Sources(folder / "sources")
        baseline(sources)
        self.sqlite_file = folder / "template.db"
        self.pg_url = new_pg_database()
        for url in (f"sqlite:///{self.sqlite_file}", self.pg_url):
            for force in ("ASC", "WP"):
                result = pipeline.run_force(force, sources=sources.root, warehouse_url=url, validator=ReadersOnly())
                assert result.ok and len(result.loaded) == 1, result.summary()
        self.checksum = None

    def copy(self, dialect: str, tmp_path) -> str:
        if dialect == "sqlite":
            target = tmp_path / "warehouse.db"
            shutil.copy2(self.sqlite_file, target)
            return f"sqlite:///{target}"
        name = f"af_test_{uuid.uuid4().hex[:12]}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{sa.engine.make_url(self.pg_url).database}"')
        return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        drop_pg_database(self.pg_url)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    made = Templates(tmp_path_factory)
    yield made
    made.close()


def _cases():
    for defect in CORPUS:
        for dialect in ("postgresql", "sqlite"):
            if dialect in defect.dialects:
                yield pytest.param(defect, dialect, id=f"{defect.name}-{dialect}")


def _baseline_lines(engine) -> list[tuple]:
    return sorted(rows(engine, "SELECT force_code, source_line_ref, amount_pence, objective_code, subjective_code "
                               "FROM fact_ledger_line WHERE document_ref IN ('ASC1/2016/1000009999', '999999')"))


def _warnings(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.mark.parametrize("defect,dialect", list(_cases()))
def test_bad_input(defect: Defect, dialect: str, templates, validator, tmp_path, caplog):
    url = templates.copy(dialect, tmp_path)
    engine = make_engine(url)
    try:
        good = _baseline_lines(engine)
        assert len(good) == 4
        sources = Sources(tmp_path / "sources")
        for number, step in enumerate(defect.steps, start=1):
            before = fact_checksum(engine)
            step(sources)
            caplog.clear()
            failure = None
            try:
                result = pipeline.run_force(defect.force, sources=sources.root, warehouse_url=url,
                                            validator=validator)
            except AllianceFinanceError as exc:
                result, failure = None, exc
            assert_sound(engine, f"{defect.name}, pass {number}")
            assert _baseline_lines(engine) == good, "the good delivery and journal changed"
            if number < len(defect.steps):
                assert failure is None and result.ok and result.loaded, result.summary()
        _expect(defect, engine, result, failure, before, _warnings(caplog))
    finally:
        engine.dispose()
        if dialect == "postgresql":
            drop_pg_database(url)


def _has(text: str, fragments: tuple[str, ...]) -> None:
    missing = [f for f in fragments if f not in text]
    assert not missing, f"missing {missing} in:\n{text[:3000]}"


def _expect(defect: Defect, engine, result, failure, before, warnings: str) -> None:
    said = (str(failure) if failure else "\n".join(filter(None, [result.summary(), warnings]))
            + "".join(f"\n  quarantined: {r[0]}" for r in rows(
                engine, "SELECT DISTINCT reason FROM quarantine_line WHERE document_ref = '501'")))
    print(f"\n[{defect.name}] {defect.expect}: {said[:600]}")
    if defect.expect == "run_failed":
        assert failure is not None
        _has(str(failure), defect.fragments)
        assert fact_checksum(engine) == before
        return
    assert failure is None, f"the run failed: {failure}"
    if defect.expect == "rejected":
        [rejected] = result.rejected
        assert not result.loaded
        _has(rejected.error, defect.fragments)
        assert len(rejected.error) < MESSAGE_LIMIT, f"a {len(rejected.error):,}-character message"
        assert rows(engine, "SELECT status, error FROM etl_batch WHERE source_ref = :s",
                    s=rejected.source_ref) == [("rejected", rejected.error)]
        assert fact_checksum(engine) == before
    elif defect.expect == "ignored":
        assert result.ok and not result.outcomes
        _has(warnings, defect.fragments)
        assert fact_checksum(engine) == before
    elif defect.expect == "unchanged":
        assert result.ok and not result.outcomes, result.summary()
        assert fact_checksum(engine) == before
    elif defect.expect == "loaded":
        assert result.ok and result.loaded, result.summary()
        assert not any(o.rows_quarantined for o in result.loaded)
    elif defect.expect == "quarantined":
        assert result.ok and result.loaded, result.summary()
        reasons = rows(engine, "SELECT DISTINCT reason FROM quarantine_line WHERE document_ref = '501'")
        assert len(reasons) == 1, reasons
        _has(reasons[0][0], defect.fragments)
        assert len(reasons[0][0]) < MESSAGE_LIMIT
        assert rows(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE document_ref = '501'") == [(0,)]
        assert rows(engine, "SELECT COUNT(*) FROM fact_ledger_line WHERE document_ref = '502'") == [(2,)]
    else:  # pragma: no cover - a typo in the corpus
        raise AssertionError(f"unknown expectation {defect.expect!r}")
    if defect.check is not None:
        defect.check(engine)


def test_the_corpus_is_large_and_distinct():
    assert len(CORPUS) >= 25
    assert len({d.what for d in CORPUS}) == len(CORPUS)


def test_journals_edited_or_removed_after_posting_are_named_by_reconcile(tmp_path, capsys):
    """The nightly extract never reads a loaded journal again (SOURCES.md: journals are never edited);
    ``alliance-finance reconcile`` is the check that they were not, naming each one that was."""
    import wp_fixtures as wp

    from alliance_finance.cli import main

    sources = Sources(tmp_path / "sources")
    sources.post(*(wp.invoice(j, "APR-16", DAY, "100.00") for j in (501, 502, 503, 504)),
                 wp.invoice(505, "APR-16", DAY, "100.00", account="WP.AB12.42000.0000"))
    warehouse = f"sqlite:///{tmp_path / 'warehouse.db'}"
    assert pipeline.run_force("WP", sources=sources.root, warehouse_url=warehouse, validator=ReadersOnly()).ok
    command = ["reconcile", "--warehouse", warehouse, "--sources", str(sources.root)]
    assert main(command) == 0
    assert "5 recorded journals (loaded or quarantined) checked against the ERP, 0 differ" in capsys.readouterr().out

    sources.execute("UPDATE gl_journal_line SET entered_dr = 150.00 WHERE journal_id = 501 AND line_no = 1")
    sources.execute("UPDATE gl_journal_line SET entered_cr = 150.00 WHERE journal_id = 501 AND line_no = 2")
    sources.execute("UPDATE gl_journal_line SET account_string = 'WP.3300.42000.0000' WHERE journal_id = 502 "
                    "AND line_no = 1")
    sources.execute("UPDATE gl_journal SET status = 'U' WHERE journal_id = 503")
    sources.execute("UPDATE gl_journal_line SET account_string = 'WP.2200.42000.0000' WHERE journal_id = 505")
    engine = make_engine(warehouse)
    before = fact_checksum(engine)
    assert pipeline.run_force("WP", sources=sources.root, warehouse_url=warehouse, validator=ReadersOnly()).outcomes == []
    assert main(command) == 1
    out = capsys.readouterr().out
    assert "5 recorded journals (loaded or quarantined) checked against the ERP, 4 differ" in out
    assert "journal 501: edited after posting: line 501/1: amount_pence 100.00 -> 150.00; " \
           "line 501/2: amount_pence -100.00 -> -150.00" in out
    assert "journal 502: edited after posting: line 502/1: cost_centre '2200' -> '3300'" in out
    assert "journal 503: recorded as loaded, but the ERP no longer holds it as a posted journal" in out
    assert "journal 505: quarantined when it was read, but the ERP's journal now passes" in out
    assert "journal 504" not in out
    # a check only: the warehouse is as it was
    assert fact_checksum(engine) == before
    engine.dispose()
    assert main(command + ["--posted-since", "2016-04-06"]) == 0
    assert "0 recorded journals" in capsys.readouterr().out
    # the ERP given by URL instead of the sources folder, and the force named: the same findings
    erp = f"sqlite:///{(sources.root / 'wiltshire' / 'erp.db').resolve()}"
    assert main(["reconcile", "--warehouse", warehouse, "--source-url", f"WP={erp}", "--force", "WP"]) == 1
    assert "WP: 5 recorded journals (loaded or quarantined) checked against the ERP, 4 differ" in capsys.readouterr().out
    # an ERP that is not there is named (masked), and a SQLite file is not created where it was expected
    missing = tmp_path / "elsewhere" / "erp.db"
    missing.parent.mkdir()
    assert main(["reconcile", "--warehouse", warehouse, "--source-url", f"WP=sqlite:///{missing}"]) == 1
    assert "WP: ERP database sqlite:///" in capsys.readouterr().err and not missing.exists()
    assert main(["reconcile", "--warehouse", warehouse, "--source-url", "WP=mysql://u:secret@127.0.0.1:1/erp"]) == 1
    err = capsys.readouterr().err
    assert "WP: ERP database mysql://u:***@127.0.0.1:1/erp unreachable" in err and "secret" not in err
    # a force on another format has no posted journals to reconcile: said, not silently passed
    assert main(["reconcile", "--warehouse", warehouse, "--sources", str(sources.root), "--force", "ASC"]) == 1
    assert "force ASC does not read erp_sql" in capsys.readouterr().err
