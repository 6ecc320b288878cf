"""Avon and Somerset deliveries built in code from the contract (SOURCES.md), for tests.

:func:`write_delivery` writes ``ASC_GL_<date>_<seq>.csv`` and its ``.ctl`` from a list of line
dicts (keys: the 15 header names), exactly as SAP would: UTF-8 with a byte-order mark, CRLF,
fields quoted where they hold a comma or a quote. Its keyword arguments break one thing at a
time (encoding, line ends, header, a control-file value, the bytes themselves) while keeping
everything else consistent: the control file's digest is taken from the bytes finally written,
so a defect reaches the stage that is meant to catch it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from alliance_finance.core.money import format_pence, parse_amount_to_pence

HEADER = (
    "Company Code", "Fiscal Year", "Posting Period", "Document Number", "Line Item",
    "Document Type", "Posting Date", "Document Date", "Cost Centre", "GL Account", "Amount",
    "D/C", "Text", "Vendor", "Reference",
)

BUSINESS_DATE = dt.date(2016, 4, 5)


def asc_line(**values: str) -> dict[str, str]:
    """A valid ASC line (a debit of 100.00 on a revenue account); keyword names use ``_`` for spaces
    and ``DC`` for ``D/C``: ``asc_line(Amount="5.00", DC="H", Cost_Centre="")``."""
    line = {
        "Company Code": "ASC1", "Fiscal Year": "2016", "Posting Period": "1",
        "Document Number": "1000000001", "Line Item": "1", "Document Type": "SA",
        "Posting Date": "05.04.2016", "Document Date": "04.04.2016", "Cost Centre": "AS100200",
        "GL Account": "510000", "Amount": "100.00", "D/C": "S", "Text": "Stationery",
        "Vendor": "", "Reference": "",
    }
    for key, value in values.items():
        name = "D/C" if key == "DC" else key.replace("_", " ")
        if name not in line:
            raise KeyError(f"no column {name!r}")
        line[name] = value
    return line


def asc_document(number: str, amount: str, day: dt.date, *, cost_centre: str = "AS100010",
                 account: str = "504100") -> list[dict[str, str]]:
    """A balanced two-line document posted on ``day``: ``amount`` debited to ``account`` on
    ``cost_centre``, credited to creditors (200100, no cost centre)."""
    posted = day.strftime("%d.%m.%Y")
    return [asc_line(Document_Number=number, Line_Item="1", Posting_Date=posted, Amount=amount, DC="S",
                     Cost_Centre=cost_centre, GL_Account=account),
            asc_line(Document_Number=number, Line_Item="2", Posting_Date=posted, Amount=amount, DC="H",
                     Cost_Centre="", GL_Account="200100")]


def happy_lines() -> list[dict[str, str]]:
    """Three balanced documents covering what the contract allows: quoted text with commas and
    doubled quotes, non-ASCII letters, thousands separators, S and H, a blank cost centre on a
    balance-sheet account, a blank document date, the Office of the PCC's company code."""
    return [
        asc_line(Document_Number="1000000001", Line_Item="1", Document_Type="KR", GL_Account="510000",
                 Amount="12,345.67", DC="S", Text='Boots, size 9 "steel" toe',
                 Vendor="100234 ACME SUPPLIES LTD", Reference="INV-77,A"),
        asc_line(Document_Number="1000000001", Line_Item="2", Document_Type="KR", GL_Account="210000",
                 Cost_Centre="", Amount="12,345.67", DC="H", Text="Créditeur Łódź Ærø",
                 Vendor="100234 ACME SUPPLIES LTD", Reference="INV-77,A"),
        asc_line(Document_Number="1000000002", Line_Item="001", Document_Type="SA", Document_Date="",
                 Amount="0.05", DC="S", Text="", Reference=""),
        asc_line(Document_Number="1000000002", Line_Item="2", Document_Type="SA", Document_Date="",
                 Cost_Centre="AS999999", Amount="0.05", DC="H"),
        asc_line(Company_Code="ASP1", Fiscal_Year="2015", Posting_Period="13",
                 Document_Number="4900000001", Line_Item="999", Document_Type="AB",
                 Posting_Date="31.03.2016", Amount="1234567.89", DC="S"),
        asc_line(Company_Code="ASP1", Fiscal_Year="2015", Posting_Period="13",
                 Document_Number="4900000001", Line_Item="1", Document_Type="AB",
                 Posting_Date="31.03.2016", Amount="1,234,567.89", DC="H", Cost_Centre="",
                 GL_Account="110000"),
    ]


def csv_field(value: str) -> str:
    """A field as SAP writes it: quoted when it holds a comma or a quote, quotes doubled (and, as
    any CSV writer would, when it holds a line break, which the contract says never happens)."""
    if any(char in value for char in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_record(fields: Iterable[str]) -> str:
    return ",".join(csv_field(field) for field in fields)


def control_totals(lines: Iterable[dict[str, str] | str]) -> tuple[int, int]:
    """(debit pence, credit pence) of the line dicts; records given as raw text and amounts that
    do not parse (a defect under test) are not counted."""
    debit = credit = 0
    for line in lines:
        if isinstance(line, dict):
            try:
                pence = parse_amount_to_pence(line["Amount"])
            except ValueError:
                continue
            if line["D/C"] == "S":
                debit += pence
            else:
                credit += pence
    return debit, credit


def delivery_name(business_date: dt.date = BUSINESS_DATE, sequence: int = 1) -> str:
    return f"ASC_GL_{business_date:%Y%m%d}_{sequence:03d}.csv"


def write_delivery(
    inbound: Path,
    lines: list[dict[str, str] | str] | None = None,
    *,
    business_date: dt.date = BUSINESS_DATE,
    sequence: int = 1,
    header: Iterable[str] | str = HEADER,
    bom: bool = True,
    line_end: str = "\r\n",
    final_line_end: bool = True,
    encoding: str = "utf-8",
    mutate: Callable[[bytes], bytes] | None = None,
    data_bytes: bytes | None = None,
    control: dict[str, str] | None = None,
    omit_control: Iterable[str] = (),
    write_control: bool = True,
) -> Path:
    """Write one delivery into ``inbound`` and return the data file's path.

    ``lines``: line dicts (see :func:`asc_line`) or records as raw CSV text (written verbatim);
    default :func:`happy_lines`. ``header``: the column names, or a raw header line.
    ``mutate`` edits the finished bytes; ``data_bytes`` replaces them whole (an HTML page).
    The control file is computed from the lines and the final bytes, then ``control`` overrides
    or adds keys and ``omit_control`` drops keys.
    """
    lines = happy_lines() if lines is None else lines
    header_text = header if isinstance(header, str) else csv_record(header)
    records = [header_text] + [line if isinstance(line, str) else csv_record(line[name] for name in HEADER)
                               for line in lines]
    text = line_end.join(records) + (line_end if final_line_end else "")
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    if mutate is not None:
        data = mutate(data)
    if data_bytes is not None:
        data = data_bytes
    name = delivery_name(business_date, sequence)
    inbound.mkdir(parents=True, exist_ok=True)
    data_path = inbound / name
    data_path.write_bytes(data)
    if write_control:
        debit, credit = control_totals(lines)
        values = {"file": name, "rows": str(len(lines)), "total_debit": format_pence(debit),
                  "total_credit": format_pence(credit), "sha256": hashlib.sha256(data).hexdigest()}
        values.update(control or {})
        for key in omit_control:
            values.pop(key, None)
        control_text = "".join(f"{key}={value}\n" for key, value in values.items())
        data_path.with_suffix(".ctl").write_text(control_text, encoding="utf-8")
    return data_path
