"""The extract: the posted journals not yet loaded, in one consistent snapshot, as Batches by period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import sqlalchemy as sa

from alliance_finance.core.errors import TransientError
from alliance_finance.core.urls import mask_url
from alliance_finance.sources.erp_sql.connection import _POSTED_JOURNALS, _fetch, _first_line, _source_engine, check_source_schema
from alliance_finance.sources.erp_sql.layout import Accounts, ErpLayout
from alliance_finance.sources.erp_sql.plan import _plan_batches, _plan_journals

if TYPE_CHECKING:  # pragma: no cover
    from alliance_finance.core.ledger import Batch


def extract_new_journals(source_url: str, loaded_journal_ids: set[int], *,
                         max_lines_per_batch: int = 500_000, layout: ErpLayout | None = None,
                         line_by_line: bool = False) -> Iterator[Batch]:
    """The posted journals not in ``loaded_journal_ids``, as Batches by accounting period.

    ``layout``: the force's code and account prefix (by default the one ``erp_sql`` force's).
    ``line_by_line``: every journal read by :func:`.journals._read_journal`, none by the column-wise
    path; the batches are the same (the tests compare the two routes).

    The source's shape is checked at once (SourceSchemaError names the table and the missing
    columns, before any data is read); the returned iterator then reads one consistent snapshot,
    one batch at a time (see the package docstring for why this is complete and never repeats).
    Each batch's ``meta`` is ``{"journal_ids", "fiscal_year", "period", "max_posted_at"}``.
    """
    if max_lines_per_batch < 1:
        raise ValueError(f"max_lines_per_batch must be at least 1, got {max_lines_per_batch}")
    layout = layout or ErpLayout.default()
    where = f"{layout.force_code} ERP database {mask_url(source_url)}"
    engine = _source_engine(source_url, where)
    try:
        with engine.connect() as connection:
            check_source_schema(connection, where)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        engine.dispose()
        raise TransientError(f"{where} unreachable: {_first_line(exc)}") from exc
    except BaseException:
        engine.dispose()
        raise
    loaded = {int(journal_id) for journal_id in loaded_journal_ids}
    return _extract(engine, loaded, max_lines_per_batch, where, layout, line_by_line)


def _extract(engine: sa.Engine, loaded: set[int], max_lines_per_batch: int, where: str,
             layout: ErpLayout, line_by_line: bool) -> Iterator[Batch]:
    try:
        with engine.connect() as connection, connection.begin():
            posted = _fetch(connection, _POSTED_JOURNALS, [])
            # MariaDB compares 'p' and 'P ' equal to 'P' under its default collation; SQLite does
            # not. Re-checking here makes both read the same journals.
            new_ids = sorted({int(journal_id) for journal_id, status in posted if status == "P"} - loaded)
            del posted
            if not new_ids:
                return
            # deferred on purpose: building batches brings pyarrow and numpy, which a night with no new
            # journal never needs
            from alliance_finance.sources.erp_sql.batch import build_batch

            planned = _plan_journals(connection, new_ids)
            del new_ids
            accounts = Accounts(layout.account_prefix)  # account strings repeat: parse each once
            for batch_plan in _plan_batches(planned, max_lines_per_batch):
                yield build_batch(connection, *batch_plan, accounts, layout.force_code, line_by_line)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # named here, so that the pipeline does not take it for the warehouse
        raise TransientError(f"{where} unreachable mid-extract: {_first_line(exc)}; the batches loaded "
                             "before stay loaded, the rest is read again by the next run") from exc
    finally:
        engine.dispose()
