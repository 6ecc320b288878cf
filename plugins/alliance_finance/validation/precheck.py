"""Before the suites: each batch's columns and types against the contract.

A concatenated frame cannot show one batch's shape, and a batch of the wrong shape cannot join it:
a batch that fails here is rejected whole (its failures name no line) and is not run by the suites.
"""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch
from alliance_finance.validation.results import CheckFailure, batch_failure
from alliance_finance.validation.suites import COLUMNS_EXPECTATION, CONFORMED, TYPE_EXPECTATION


def precheck(batch: Batch, raw_suite: str | None, source_columns: Sequence[str] = ()) -> list[CheckFailure]:
    """The batch's failures of shape: its lines against ``ledger.CONFORMED_SCHEMA``; its raw table
    (when it has one and its format has a ``raw_suite``) against ``source_columns``, the source's
    own columns in order, all text, then an integer ``source_line_number``."""
    failures: list[CheckFailure] = []
    lines = batch.lines
    if lines is None:
        return [batch_failure(CONFORMED, COLUMNS_EXPECTATION, None,
                              "the conformed columns of ledger.CONFORMED_SCHEMA", "no lines table")]
    if lines.schema.names != CONFORMED_SCHEMA.names:
        failures.append(batch_failure(
            CONFORMED, COLUMNS_EXPECTATION, None,
            f"the columns of ledger.CONFORMED_SCHEMA in order: {', '.join(CONFORMED_SCHEMA.names)}",
            f"columns {', '.join(lines.schema.names)}"))
    else:
        for field in CONFORMED_SCHEMA:
            found = lines.schema.field(field.name).type
            if not _same_type(found, field.type):
                failures.append(batch_failure(CONFORMED, TYPE_EXPECTATION, field.name,
                                              f"type {field.type}", f"type {found}"))
    if batch.raw is not None and raw_suite is not None:
        failures.extend(_raw_failures(batch.raw, raw_suite, list(source_columns) + ["source_line_number"]))
    return failures


def _raw_failures(raw: pa.Table, raw_suite: str, expected: list[str]) -> list[CheckFailure]:
    found = raw.schema.names
    if found != expected:
        return [batch_failure(raw_suite, COLUMNS_EXPECTATION, None,
                              f"the source's columns in order, then source_line_number: {', '.join(expected)}",
                              f"columns {', '.join(found)}")]
    failures = []
    for name in expected[:-1]:
        found_type = raw.schema.field(name).type
        if not (pa.types.is_string(found_type) or pa.types.is_large_string(found_type)):
            failures.append(batch_failure(raw_suite, TYPE_EXPECTATION, name, "text, as read", f"type {found_type}"))
    line_type = raw.schema.field("source_line_number").type
    if not pa.types.is_integer(line_type):
        failures.append(batch_failure(raw_suite, TYPE_EXPECTATION, "source_line_number",
                                      "an integer line number", f"type {line_type}"))
    return failures


def _same_type(found: pa.DataType, expected: pa.DataType) -> bool:
    if pa.types.is_string(expected):
        return pa.types.is_string(found) or pa.types.is_large_string(found)
    return found == expected
