"""Failing rows back to their batches: one suite's failures, found by position in the shared frame,
become per-batch :class:`CheckFailure` s naming the lines, documents and values, and the stored GX
result is annotated with the batch and line of its sample rows (the Data Docs show them)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pyarrow as pa

from alliance_finance.core.ledger import Batch
from alliance_finance.validation.gx_project import exception_message, raised
from alliance_finance.validation.results import (
    SAMPLE_ROWS,
    CheckFailure,
    batch_failure,
    jsonable,
    sample_text,
    show_value,
)
from alliance_finance.validation.suites import (
    COLUMNS_EXPECTATION,
    CONFORMED,
    CONTROLS,
    FORMAT_RULES,
    FormatRules,
)

class Locator:
    """Turns one suite's failing rows (positions in the shared frame) into per-batch failures.

    ``table`` holds the ``members``' rows back to back, batch ``members[i]`` from ``offsets[i]``;
    ``rules`` are the format rules by force code (a batch of an unknown force has none)."""

    def __init__(self, suite: str, table: pa.Table, members: list[int], offsets: list[int],
                 batches: list[Batch], rules: Mapping[str, FormatRules]):
        self.suite = suite
        self.table = table
        self.members = members
        self.offsets = offsets
        self.batches = batches
        self.rules = rules
        self.document_column = document_column(suite)

    def _numbered_in_document(self, index: int) -> bool:
        rules = self.rules.get(self.batches[index].force_code)
        return rules is not None and rules.lines_numbered_in_documents

    def failures(self, config, expectation_result, positions) -> list[tuple[int, CheckFailure]]:
        meta = config.meta or {}
        expected = meta.get("expected") or f"{config.type} {kwargs_text(config.kwargs)}"
        column = _column_of(config.kwargs)
        result = expectation_result.result or {}

        if raised(expectation_result):
            found = f"the check could not run: {exception_message(expectation_result)}"
            return [(i, batch_failure(self.suite, config.type, column, expected, found)) for i in self.members]
        if positions is None:  # a whole-table expectation: it cannot say which batch, so all fail
            observed = result.get("observed_value")
            found = f"{observed!r}" if observed is not None else "a failure that names no row"
            return [(i, batch_failure(self.suite, config.type, column, expected, found)) for i in self.members]

        positions = np.sort(positions)
        slots = np.searchsorted(np.asarray(self.offsets[1:], dtype=np.int64), positions, side="right")
        shown = _shown_columns(config, self.table)
        failures = []
        for slot in np.unique(slots):
            batch_positions = positions[slots == slot]
            index = self.members[int(slot)]
            failures.append((index, self._failure(config, column, expected, shown, index, batch_positions)))
        return failures

    def _failure(self, config, column, expected, shown, index, positions) -> CheckFailure:
        count = len(positions)
        if self.suite == CONTROLS:
            row = self.table.slice(int(positions[0]), 1).to_pylist()[0]
            values = {name: row[name] for name in shown}
            found = ", ".join(f"{name}={show_value(name, value)}" for name, value in values.items())
            return CheckFailure(self.suite, config.type, column, expected, count, found,
                                samples=[{"values": jsonable(values)}], batch_level=True)
        documents, first_rows, unattributed = self._documents(positions)
        rows = self.table.take(pa.array(positions[:SAMPLE_ROWS]))
        samples = [self._sample(row, shown) for row in rows.to_pylist()]
        more = f" (and {count - len(samples)} more)" if count > len(samples) else ""
        noun = "line" if count == 1 else "lines"
        in_document = self._numbered_in_document(index)
        found = (f"{count} {noun}: " + "; ".join(sample_text(s, numbered_in_document=in_document)
                                                 for s in samples) + more)
        failure = CheckFailure(self.suite, config.type, column, expected, count, found, samples=samples,
                               documents=documents, batch_level=unattributed)
        rules = self.rules.get(self.batches[index].force_code)
        if rules is not None and rules.quarantines_documents and first_rows:
            # what each journal's own first failing line shows: its quarantine reason
            rows = self.table.take(pa.array(first_rows)).to_pylist()
            failure.found_by_document = {d: sample_text(self._sample(row, shown), numbered_in_document=in_document)
                                         for d, row in zip(documents, rows)}
        return failure

    def _documents(self, positions) -> tuple[list[str], list[int], bool]:
        """The documents (erp_sql: journals) of the failing rows in order of first failure, the position
        of each one's first failing row, and whether some failing row names none (then the failure
        cannot be kept to its journals)."""
        name = self.document_column
        if name is None:
            return [], [], False
        values = self.table.column(name).take(pa.array(positions)).to_pylist()
        first: dict[str, int] = {}
        for value, position in zip(values, positions.tolist()):
            if value is not None and value not in first:
                first[value] = position
        return list(first), list(first.values()), any(v is None for v in values)

    def _sample(self, row: dict, shown: list[str]) -> dict[str, Any]:
        sample: dict[str, Any] = {"source_line_number": row.get("source_line_number")}
        if self.suite != CONFORMED and self.document_column is not None:
            sample["document_ref"] = row.get(self.document_column)
        elif self.suite == CONFORMED:
            sample["document_ref"] = row.get("document_ref")
            sample["source_line_ref"] = row.get("source_line_ref")
            sample["force_code"] = row.get("force_code")
        sample["values"] = jsonable({name: row.get(name) for name in shown})
        return sample

    def annotate(self, suite_result, positions: dict) -> None:
        """Name the batches in the stored GX result: which ``batch_index`` is which delivery, and
        each failing expectation's sample rows by batch and line (the Data Docs show them)."""
        suite_result.meta["alliance_batches"] = [
            {"batch_index": index, "force_code": self.batches[index].force_code,
             "source_ref": self.batches[index].source_ref,
             "rows": self.offsets[slot + 1] - self.offsets[slot]}
            for slot, index in enumerate(self.members)
        ]
        ends = np.asarray(self.offsets[1:], dtype=np.int64)
        for expectation_result in suite_result.results:
            config = expectation_result.expectation_config
            found = positions.get(config.id)
            if expectation_result.success or found is None or not len(found):
                continue
            sample = np.sort(found)[:20]
            shown = _shown_columns(config, self.table)
            rows = self.table.take(pa.array(sample)).select(shown + (
                ["source_line_number"] if "source_line_number" in self.table.schema.names else [])).to_pylist()
            slots = np.searchsorted(ends, sample, side="right")
            named = [{"batch": self.batches[self.members[int(slot)]].source_ref,
                      "source_line_number": row.pop("source_line_number", None), **jsonable(row)}
                     for slot, row in zip(slots, rows)]
            # GX's renderer draws its "unexpected value / count / where" table from
            # unexpected_index_list only; here it holds the first 20 failing rows, named
            expectation_result.result["unexpected_index_column_names"] = ["batch", "source_line_number"]
            expectation_result.result["partial_unexpected_index_list"] = named
            expectation_result.result["unexpected_index_list"] = named


def document_column(suite: str) -> str | None:
    """The column of ``suite``'s frame naming a row's document (the conformed lines' document_ref;
    a raw suite's, its format's ``raw_document_column``)."""
    if suite == CONFORMED:
        return "document_ref"
    return next((r.raw_document_column for r in FORMAT_RULES.values() if r.raw_suite == suite), None)


def kwargs_text(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "batch_id")


def _column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if "column_list" in kwargs and len(kwargs["column_list"]) <= 4:
        return ", ".join(c for c in kwargs["column_list"] if c != "batch_index")
    return None


def _shown_columns(config, table: pa.Table) -> list[str]:
    """The columns a failing row is shown by: those the check derives from, else those it reads;
    a derived true/false column itself says nothing and is left out."""
    kwargs, meta = config.kwargs, config.meta or {}
    names: list[str] = list(meta.get("derived_from") or [])
    for key in ("column", "column_A", "column_B"):
        if key in kwargs:
            names.append(kwargs[key])
    for name in kwargs.get("column_list", []) if config.type != COLUMNS_EXPECTATION else []:
        names.append(name)
    present = table.schema.names
    shown = []
    for name in dict.fromkeys(names):
        if name == "batch_index" or name not in present:
            continue
        if meta.get("derived_from") and name not in meta["derived_from"] and pa.types.is_boolean(
                table.schema.field(name).type):
            continue
        shown.append(name)
    return shown


