"""Reading one delivery: its control file, its bytes and every check, into a Batch (or a rejection)."""

from __future__ import annotations

import hashlib

from alliance_finance.core.ledger import Batch, empty_lines
from alliance_finance.sources.sap_files.conform import conform
from alliance_finance.sources.sap_files.control import parse_control
from alliance_finance.sources.sap_files.deliveries import Delivery
from alliance_finance.sources.sap_files.layout import Rejected, SapLayout, pounds
from alliance_finance.sources.sap_files.parsing import check_encoding, check_header, check_structure, read_columns


def read_delivery(delivery: Delivery) -> Batch:
    """Read, check and conform one delivery.

    Never raises for bad content: a delivery that fails a check comes back as a Batch rejected
    whole (``error`` names the file, the line where there is one, what was expected and what was
    found; ``lines`` is empty). Raises only for OS errors (a file unreadable or gone).

    ``rows_read`` is the number of data records once the CSV structure is known to be sound
    (0 when the delivery is rejected before that); the debit and credit totals are the file's
    own sums once its amounts parse (0 before). ``meta["control"]`` holds the control file's
    values as written (``rows`` as int, ``sha256`` lowercased, any unknown key kept) plus
    ``total_debit_pence`` and ``total_credit_pence``. The force's names (code, company codes,
    cost-centre prefix) come from ``delivery.layout``.
    """
    layout = delivery.layout or SapLayout.default()
    control_bytes = delivery.control_path.read_bytes()
    data = delivery.data_path.read_bytes()
    batch = Batch(
        force_code=layout.force_code,
        source_ref=delivery.name,
        digest=hashlib.sha256(data).hexdigest(),
        lines=empty_lines(),
        business_date=delivery.business_date,
        sequence=delivery.sequence,
        meta={"control": {}},
    )
    try:
        control = parse_control(control_bytes, delivery)
        batch.meta["control"] = control
        if batch.digest != control["sha256"]:
            raise Rejected(
                f"SHA-256 of the data file is {batch.digest}, expected {control['sha256']} as its "
                f"control file {delivery.control_path.name} says (changed or incomplete file)")
        check_encoding(data)
        body = check_header(data)
        records = check_structure(body)
        batch.rows_read = len(records)
        if len(records) != control["rows"]:
            raise Rejected(f"{len(records)} data rows in the file, expected {control['rows']} as its "
                            f"control file {delivery.control_path.name} says (rows=)")
        raw = read_columns(body, len(records))
        lines, debit, credit = conform(raw, layout)
        batch.total_debit_pence, batch.total_credit_pence = debit, credit
        for key, found in (("total_debit", debit), ("total_credit", credit)):
            expected = control[key + "_pence"]
            if found != expected:
                raise Rejected(
                    f"{key.replace('_', ' ')} of the file's lines is {pounds(found)}, expected "
                    f"{pounds(expected)} as its control file {delivery.control_path.name} says "
                    f"({key}=), a difference of {pounds(found - expected)}")
    except Rejected as rejection:
        batch.reject(f"{delivery.name}: {rejection}")
        batch.raw = None
        return batch
    batch.lines = lines
    batch.raw = raw
    return batch

