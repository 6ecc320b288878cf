"""Validation: every batch checked by the Great Expectations suites in ``expectations/`` before it loads.

What is checked (the suites are reviewable JSON in ``expectations/gx/expectations/``; see
``expectations/README.md`` and ``docs/validation.md``, which also has the measurements):

- the raw suite of the batch's source format (``suites.FORMAT_RULES``): ``asc_sap_raw`` for
  ``sap_files``, ``wp_erp_raw`` for ``erp_sql``: the table as read, every column text;
- ``conformed_ledger_line``: the conformed lines of every source, with the columns ``frames``
  derives in pyarrow for rules across columns or lines;
- ``batch_controls``: one row per batch with the control totals and row accounting.

Every failure, whichever suite found it, comes back in one shape (:class:`CheckFailure`) inside the
batch's :class:`BatchValidation`, and into the Data Docs and the result JSON. A failing batch is
rejected whole; a format that keeps failures to their documents (erp_sql) quarantines the failing
journals whole instead, when every failure names one (docs/contracts.md).

The modules, one job each, in the order a call uses them: ``suites`` (names, format rules),
``precheck`` (each batch's shape), ``frames`` (the tables the suites run over), ``gx_project`` (the
private GX project and its runs), ``gx_compat`` (the patches of GX internals, applied only around
the runs), ``locate`` (failing rows back to batches), ``outcome`` (reject or quarantine),
``data_docs`` (what is written for people), ``validator`` (the :class:`Validator` tying them).
Importing this package imports neither Great Expectations nor pandas (seconds): a Validator does,
once, on the first call that needs them.
"""

from alliance_finance.validation.frames import document_net_pence, posting_date_agrees, revenue_line_has_cost_centre
from alliance_finance.validation.gx_compat import GxCompatibilityError
from alliance_finance.validation.results import SAMPLE_ROWS, BatchValidation, CheckFailure
from alliance_finance.validation.suites import (
    ASC_RAW,
    CONFORMED,
    CONTROLS,
    FORMAT_RULES,
    PIPELINE_COLUMNS,
    SUITES,
    WP_RAW,
    FormatRules,
)
from alliance_finance.validation.validator import DEFAULT_ROW_BUDGET, Validator, build_data_docs

__all__ = [
    "ASC_RAW", "CONFORMED", "CONTROLS", "DEFAULT_ROW_BUDGET", "FORMAT_RULES", "PIPELINE_COLUMNS", "SAMPLE_ROWS",
    "SUITES", "WP_RAW", "BatchValidation", "CheckFailure", "FormatRules", "GxCompatibilityError", "Validator",
    "build_data_docs", "document_net_pence", "posting_date_agrees", "revenue_line_has_cost_centre",
]
