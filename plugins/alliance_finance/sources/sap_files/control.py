"""Stage 1 of reading a delivery: its control file (rows, totals, SHA-256), checked and parsed."""

from __future__ import annotations

import re

from alliance_finance.sources.sap_files.deliveries import Delivery
from alliance_finance.sources.sap_files.layout import BOM, CONTROL_KEYS, Rejected, excerpt

_CONTROL_TOTAL = re.compile(r"[0-9]+\.[0-9]{2}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_control(raw: bytes, delivery: Delivery) -> dict:
    """The control file's values: rows as int, totals as exact text and as pence, sha256 lowercase."""
    control_name = delivery.control_path.name
    where = f"control file {control_name}"
    try:
        text = raw.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise Rejected(f"{where} line {line}: expected UTF-8 text, found byte "
                        f"0x{raw[exc.start]:02X} that is not valid UTF-8") from None
    values: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise Rejected(f"{where} line {number}: expected key=value, found {excerpt(line)}")
        key, value = key.strip(), value.strip()
        if key in values and values[key] != value:
            raise Rejected(f"{where} line {number}: {key} given twice, {values[key]!r} on line "
                            f"{line_of[key]} and {value!r} here")
        values[key], line_of[key] = value, number
    missing = [key for key in CONTROL_KEYS if key not in values]
    if missing:
        raise Rejected(f"{where}: missing {', '.join(missing)}; expected keys {', '.join(CONTROL_KEYS)}, "
                        f"found {', '.join(values) or 'none'}")
    if values["file"] != delivery.name:
        raise Rejected(f"{where} line {line_of['file']}: names file={values['file']!r}, "
                        f"expected {delivery.name!r} (a control file for another delivery)")
    if not re.fullmatch(r"[0-9]+", values["rows"]):
        raise Rejected(f"{where} line {line_of['rows']}: expected rows=<whole number>, "
                        f"found rows={values['rows']!r}")
    control: dict = dict(values)
    control["rows"] = int(values["rows"])
    for key in ("total_debit", "total_credit"):
        if not _CONTROL_TOTAL.fullmatch(values[key]):
            raise Rejected(f"{where} line {line_of[key]}: expected {key}=<amount with 2 decimals, "
                            f"e.g. 4123456.78>, found {key}={values[key]!r}")
        control[key + "_pence"] = int(values[key].replace(".", ""))
    if not _HEX64.fullmatch(values["sha256"]):
        raise Rejected(f"{where} line {line_of['sha256']}: expected sha256=<64 hex digits>, "
                        f"found sha256={excerpt(values['sha256'])}")
    control["sha256"] = values["sha256"].lower()
    return control

