"""What a Validator leaves on disk for people: each call's verdicts as JSON and the GX Data Docs site.

Under ``data_docs_dir``: ``results/batches/<time>-<batches>.json`` (every batch's verdict of one
call), ``results/gx/`` (GX's stored results) and the site (``index.html``, ``validations/``...).
Building the site renders only what is asked (a call's results, the suites' pages once per context)
and the index, so its cost follows what is new, not the years of history.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterable

from alliance_finance.validation.results import BatchValidation


def write_verdicts(data_docs_dir: Path, results: list[BatchValidation], run_label: str,
                   started: dt.datetime) -> Path:
    """One call's verdicts, written atomically (a reader never sees half a file)."""
    folder = Path(data_docs_dir) / "results" / "batches"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{started:%Y%m%dT%H%M%S%f}Z-{run_label}.json"
    document = {"validated_at": started.isoformat(), "batches": [r.to_dict() for r in results]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def build_pages(context, data_docs_dir: Path, result_keys: Iterable, suites: Iterable[str]) -> Path:
    """Render ``result_keys``' pages, ``suites``' pages and the index (always: it lists every stored
    result, the latest 500 of them); returns ``index.html``."""
    # deferred on purpose: Great Expectations takes seconds to import (the caller has already)
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    identifiers = list(result_keys) + [ExpectationSuiteIdentifier(name=name) for name in suites]
    # an empty list would mean "everything" to GX: a key nothing matches renders only the index
    context.build_data_docs(site_names=["local_site"],
                            resource_identifiers=identifiers or [ExpectationSuiteIdentifier(name="-")])
    return Path(data_docs_dir).resolve() / "index.html"


def unrendered_results(context, data_docs_dir: Path) -> list:
    """The stored results that have no Data Docs page yet."""
    pages = Path(data_docs_dir).resolve() / "validations"
    missing = []
    for key in context.validation_results_store.list_keys():
        *folders, name = key.to_tuple()
        if not pages.joinpath(*folders, f"{name}.html").is_file():
            missing.append(key)
    return missing
