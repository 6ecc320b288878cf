"""The ``erp_sql`` reader of one force: the posted journals its warehouse has not recorded, read in groups.

What is new: every posted journal whose id is not in ``source_document_loaded`` for the force
(written in the same transaction as the journal's lines), so a journal is never read twice nor
missed. The database is ``settings.source_urls[<code>]`` (an Airflow connection, ``--source-url CODE=URL``)
or else the sample SQLite file ``<sources>/<source.database>``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig
from alliance_finance.core import faults
from alliance_finance.core.urls import mask_url
from alliance_finance.sources.base import PendingWork, SourcesMissing, batch_groups
from alliance_finance.sources.erp_sql.extract import extract_new_journals
from alliance_finance.sources.erp_sql.layout import ErpLayout

if TYPE_CHECKING:  # pragma: no cover
    from alliance_finance.config.settings import Settings
    from alliance_finance.core.ledger import Batch

_log = logging.getLogger("alliance_finance.sources.erp_sql")


class ErpSqlReader:
    """One force's ERP database (``source``: ``database``, ``account_prefix``)."""

    def __init__(self, force: ForceConfig, settings: "Settings"):
        self.force = force
        self.settings = settings
        self.layout = ErpLayout.of(force)

    @property
    def source_url(self) -> str:
        return source_url(self.force, self.settings)

    def pending(self, engine: sa.Engine) -> PendingWork:
        """Names the extract: which journals are new is known only by reading the ERP."""
        source = mask_url(self.source_url)
        return PendingWork(self.force.code, source, extract=f"posted journals not yet loaded from {source}")

    def read_groups(self, engine: sa.Engine, pending: PendingWork) -> Iterator[list["Batch"]]:
        """The posted journals not recorded in ``engine``'s warehouse, by period, in groups
        (:func:`~..base.batch_groups`); the source's shape is checked before the first is asked for."""
        url = self.source_url
        loaded = loaded_journal_ids(engine, self.force.code)
        _log.info("%s: extracting posted journals from %s (%d already loaded)", self.force.code, mask_url(url),
                  len(loaded))
        batches = extract_new_journals(url, loaded, layout=self.layout)
        return batch_groups(faults.each(f"{self.force.code}.read", batches))

    def close(self) -> None:
        pass


def source_url(force: ForceConfig, settings: "Settings") -> str:
    """The force's ERP database: ``settings.source_urls[code]``, else ``<sources>/<source.database>``."""
    url = settings.source_urls.get(force.code)
    if url:
        return url
    relative = Path(force.source["database"]).as_posix()
    sources = settings.sources_dir
    if sources is None:
        raise SourcesMissing(f"neither a database URL for {force.code} nor --sources (holding {relative}) given")
    database = Path(sources) / relative
    if not database.is_file():
        raise SourcesMissing(f"no {relative} under {sources} (or give {force.code}'s database URL)")
    return f"sqlite:///{database.resolve()}"


def loaded_journal_ids(engine: sa.Engine, force_code: str) -> set[int]:
    """The source document ids (journal ids) the warehouse has recorded as loaded or quarantined."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    with engine.connect() as conn:
        # every run reads them all (five years: 318,000): on the driver's cursor, which takes half
        # the time of SQLAlchemy's rows
        cursor = conn.connection.cursor()
        try:
            cursor.execute(f"SELECT document_ref FROM source_document_loaded WHERE force_code = {mark}", (force_code,))
            return {int(row[0]) for row in cursor.fetchall()}
        finally:
            cursor.close()
