"""The ``erp_sql`` source format: newly posted journals extracted from an ERP reporting database.

A force on this format (Wiltshire Police today) is configured in ``dags/forces.yaml``: its
``source`` names the sample database under the sources folder (a deployment gives a URL instead)
and the prefix of its account strings (:class:`~.layout.ErpLayout`); nothing in this package names
a force.

The ERP exposes ``gl_journal`` and ``gl_journal_line`` (SOURCES.md) at any SQLAlchemy URL: the sample
data's SQLite file, MariaDB in production. The same SQLAlchemy Core statements serve both; every
value is bound as a parameter.

Incremental and complete: the journal-id anti-join
---------------------------------------------------
Each run:

1. lists the ids of *all* posted journals (``status = 'P'``): a narrow query, ids only;
2. subtracts ``loaded_journal_ids``, the ids the warehouse has recorded (in the same transaction
   that loaded their lines, or quarantined them);
3. fetches the remaining journals and their lines in chunks of at most :data:`ID_CHUNK` ids
   (``IN`` lists below SQLite's historical 999-parameter limit, which MariaDB takes as well).

Why this never misses a journal and never reads a line twice:

- *Nothing is missed.* The set of posted ids is read anew every run, not derived from a
  ``posted_at`` watermark. A journal whose long transaction commits late, with a ``posted_at`` older
  than journals already loaded, is simply an id not yet in ``loaded_journal_ids`` on the first run
  that can see it, whatever its ``posted_at``. An unposted journal is not listed until it is posted.
- *Nothing is read twice.* Journals are never edited after posting (they are corrected by reversal),
  so a journal id, once loaded, names the same lines for ever and never needs reading again. Because
  the warehouse records the ids in the same transaction as the lines, "loaded" and "recorded" cannot
  disagree after a crash: a batch either committed both or neither, and the next run re-offers
  exactly the journals that did not commit.

All reads of a run happen in one transaction, a consistent snapshot where the database offers one
(MariaDB/MySQL and PostgreSQL: ``REPEATABLE READ``; SQLite: an explicit ``BEGIN``, so the id list,
the headers and the lines are read from the same state of the file). A journal committed while the
run is reading belongs to the next run. ``posted_at`` is kept only as the batch's high-water mark
(``meta["max_posted_at"]``) for freshness reporting, and for ordering.

Batches
-------
New journals are grouped by the accounting period their ``period_name`` names, one batch per
(fiscal_year, period) in period order, journals ordered by (posted_at, journal_id) within it. A period
with more than ``max_lines_per_batch`` lines is split into several batches, journals kept whole (a
single larger journal makes a batch of its own). Journals whose period name cannot be read go into a
last batch of their own, "unknown period" (``meta`` fiscal_year and period ``None``), all quarantined.
A batch holds the journals' lines in memory, nothing more: the plan (period, ``posted_at`` and line
count of each new journal: a GROUP BY and three narrow columns) is read first, and each batch then
reads its journals' full headers and lines.

``Batch.lines`` and ``Batch.raw`` hold the loadable journals' lines, row for row in the same order
(a quarantined journal's columns are in its quarantine entries). ``Batch.digest`` is the SHA-256 of
every line read, quarantined ones included, sorted by (journal_id, line_no) and rendered from the
same exact text as ``raw``: the same journals give the same digest on SQLite and on MariaDB.

Quarantine: a bad journal is kept out whole
-------------------------------------------
Every line of a bad journal goes to ``Batch.quarantine`` with ``original`` = the line's columns (the
journal's and the line's) as JSON, and one reason naming the journal, what was expected and what
was found. The defects caught here: an unknown period name, an accounting date that is missing,
unreadable or outside the period named, a posted journal without ``posted_at``, a missing journal
source, no lines, a line without a number or with a number used twice, a malformed account string,
a line with both or neither of debit and credit, a negative or non-numeric amount, an amount with more
than two decimals or beyond the warehouse's ``numeric(15,2)``, a text holding a NUL character (which PostgreSQL text
cannot store), and a journal whose debits and credits differ. The other journals load.

A journal with no lines still needs a trace in the quarantine, so it is kept as one entry
(``source_line_ref`` ``"<journal_id>/-"``, ``source_line_number`` 0, ``original`` = the journal's
columns) and counted as one row read: that keeps ``rows_read == loaded + quarantined``.

Money
-----
Exact throughout. Columns are read *untyped* (no SQLAlchemy result processing, which on SQLite would
round a float to the column's declared scale and hide a third decimal), and each amount is converted
by :func:`amount_to_pence` according to what the driver returned:

- ``Decimal`` (MariaDB, PostgreSQL), ``int`` (SQLite stores ``12.00`` as the integer 12) or ``str``
  (a TEXT column): converted exactly through ``Decimal``;
- ``float``: SQLite's ``NUMERIC`` affinity stores ``12.34`` as the binary double nearest 12.34, so a
  float is what the sample file gives back. It is accepted only when it converts exactly: its
  shortest round-trip decimal form (``repr``) has at most two decimals, which is true exactly when the
  double is the one SQLite made from a two-decimal amount (two amounts of 15 significant digits or
  fewer never share a double; ``numeric(14,2)`` needs 14). A float that is not (``12.345``,
  ``0.30000000000000004``, ``nan``) quarantines its journal. No arithmetic is ever done on a float.

``rows_read`` is the lines read for the batch's journals; ``total_debit_pence``/``total_credit_pence``
sum every amount read that is a valid amount, quarantined journals included.

Whole columns, and line by line only where something is wrong
-------------------------------------------------------------
The rules of a journal's lines are written once, on whole columns (:func:`.rules.check_lines`:
numpy and pyarrow, no Python step per line): integer line numbers unique in their journal, exactly
one of debit and credit, each an exact amount in range (SQLite's doubles by the same test as
:func:`amount_to_pence`, MariaDB's Decimals by an exact decimal cast), account strings parsed once
per distinct value, texts without NUL. A batch's lines are checked at once; the journals that keep
every rule and balance are conformed column-wise (:class:`.columns._FastLines`). A journal with any
header problem, no lines, a line breaking a rule or holding a value the columns do not conform, or
debits and credits that differ is handed whole to :func:`.journals._read_journal`, which words what
the same checks found and builds the quarantine. ``tests/test_erp_sql.py`` reads the same sources both ways
(``extract_new_journals(..., line_by_line=True)`` sends every journal through the line-by-line
reader) and finds identical batches. The reads by journal id run on the driver's cursor, not
SQLAlchemy's rows. How fast: docs/performance.md ("The readers alone").

The package's modules: :mod:`.layout` (the tables' columns, limits, a force's names, the period and
account parsers), :mod:`.connection` (engine, snapshot, shape, reads by id), :mod:`.plan` (the
batches planned), :mod:`.headers` (journal headers), :mod:`.amounts` (money to pence),
:mod:`.rules` (the rules of a journal's lines), :mod:`.columns` (the column-wise path),
:mod:`.journals` (the line-by-line path and the quarantine),
:mod:`.extract` (which journals are new, in SQL alone), :mod:`.batch` (one batch read and conformed:
the only step that needs pyarrow, imported when there is a new journal) and :mod:`.reader` (the
force's reader). ``RAW_SCHEMA`` and :func:`.amounts.amount_to_pence` are made or imported on first
use, so that a night with nothing new imports neither pyarrow nor numpy.
"""

from alliance_finance.sources.erp_sql.connection import check_source_schema
from alliance_finance.sources.erp_sql.extract import extract_new_journals
from alliance_finance.sources.erp_sql.layout import (ID_CHUNK, JOURNAL_COLUMNS, LINE_COLUMNS, MAX_AMOUNT_PENCE,
                                                     RAW_COLUMNS, REQUIRED_COLUMNS, AccountString,
                                                     ErpLayout, parse_account_string, parse_period_name)
from alliance_finance.sources.erp_sql.reader import ErpSqlReader


def __getattr__(name: str):
    # deferred on purpose: these bring pyarrow and numpy, which finding nothing new never needs
    if name == "amount_to_pence":
        from alliance_finance.sources.erp_sql.amounts import amount_to_pence

        return amount_to_pence
    if name == "RAW_SCHEMA":
        from alliance_finance.sources.erp_sql import layout

        return layout.RAW_SCHEMA
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["ID_CHUNK", "JOURNAL_COLUMNS", "LINE_COLUMNS", "MAX_AMOUNT_PENCE", "RAW_COLUMNS", "RAW_SCHEMA",
           "REQUIRED_COLUMNS", "AccountString", "ErpLayout", "ErpSqlReader", "amount_to_pence",
           "check_source_schema", "extract_new_journals", "parse_account_string", "parse_period_name"]
