"""The suites of ``expectations/gx`` and which of them checks which source format.

A force's raw suite and what happens to its failing lines follow from its ``source_format`` in
``dags/forces.yaml`` (:data:`FORMAT_RULES`), never from its code. The raw suites keep the names
they were first given (``asc_sap_raw``, ``wp_erp_raw``): the name is the key of every stored GX
result and Data Docs page (``var/data_docs/results/gx/<suite>/...``) and of the DataFrame asset in
``expectations/gx/great_expectations.yml``, so renaming one would orphan the history.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

from alliance_finance.config.forces import ForceConfig

#: The suites, and the checkpoint and validation definition of the same name, in expectations/gx.
ASC_RAW, WP_RAW, CONFORMED, CONTROLS = "asc_sap_raw", "wp_erp_raw", "conformed_ledger_line", "batch_controls"
SUITES = (ASC_RAW, WP_RAW, CONFORMED, CONTROLS)

#: columns the pipeline adds to each suite's frame (they follow the source's own columns)
PIPELINE_COLUMNS = {
    ASC_RAW: ("source_line_number", "batch_index"),
    WP_RAW: ("source_line_number", "batch_index", "entered_sides"),
    CONFORMED: ("batch_index", "posting_date_agrees", "revenue_line_has_cost_centre", "document_net_pence"),
}

COLUMNS_EXPECTATION = "expect_table_columns_to_match_ordered_list"
TYPE_EXPECTATION = "expect_column_values_to_be_of_type"


@dataclasses.dataclass(frozen=True)
class FormatRules:
    """How the batches of one source format are validated and what their failures do."""

    #: the suite that checks the table as read (``Batch.raw``)
    raw_suite: str
    #: the raw column naming a failing row's document (``None``: a raw failure names none)
    raw_document_column: str | None
    #: a failure that names documents moves those documents whole to quarantine and the rest of the
    #: batch loads (erp_sql: journals, docs/contracts.md); otherwise the batch is rejected whole
    quarantines_documents: bool
    #: the source numbers lines within a document (a journal's ``line_no``), not within a file
    lines_numbered_in_documents: bool


#: source_format -> its rules; one entry per format of config.forces.SOURCE_FORMATS
FORMAT_RULES: Mapping[str, FormatRules] = {
    "sap_files": FormatRules(raw_suite=ASC_RAW, raw_document_column=None, quarantines_documents=False,
                             lines_numbered_in_documents=False),
    "erp_sql": FormatRules(raw_suite=WP_RAW, raw_document_column="journal_id", quarantines_documents=True,
                           lines_numbered_in_documents=True),
}


def rules_by_force(forces: Iterable[ForceConfig]) -> dict[str, FormatRules]:
    """force code -> the rules of its source format."""
    return {force.code: FORMAT_RULES[force.source_format] for force in forces}
