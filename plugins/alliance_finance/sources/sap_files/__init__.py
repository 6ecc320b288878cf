"""Avon and Somerset (force ``ASC``): the SAP general-ledger files, from inbound folder to a Batch.

Each business night SAP writes ``ASC_GL_<YYYYMMDD>_<NNN>.csv`` and then, once that is complete,
its control file ``ASC_GL_<YYYYMMDD>_<NNN>.ctl`` (SOURCES.md). :func:`discover_deliveries` lists
the deliveries whose control file is there; :func:`read_delivery` turns one into a
:class:`~alliance_finance.core.ledger.Batch` of conformed lines, or into a batch rejected whole.

A delivery is checked in stages, stopping at the first that fails (within a stage up to
five examples and the count are reported):

1. control file: UTF-8 ``key=value`` lines with ``file``, ``rows``, ``total_debit``,
   ``total_credit`` and ``sha256``; ``file`` names this data file;
2. the data file's SHA-256 equals the control file's;
3. encoding: UTF-8 byte-order mark, strict UTF-8 (never guessed), no NUL byte, CRLF line ends;
4. the header row, exactly as SOURCES.md spells it (an HTML error page is recognised as such
   before the encoding checks, whatever its byte-order mark or line ends);
5. CSV structure: 15 fields per record, well-formed quotes (checked on every line with one RE2
   pattern, because pyarrow's CSV parser quietly accepts text after a closing quote and reports
   a field-count error without a line number);
6. the number of records equals the control file's ``rows``;
7. typed columns: every value of every column checked and converted with ``pyarrow.compute``
   (codes, periods, real dates, amounts to integer pence; no float anywhere, no per-row Python
   except to word the message about failing rows);
8. the sums of debit (``S``) and credit (``H``) amounts equal the control file's totals.

What the content *means* (a posting date outside its period, a duplicate line key, an unbalanced
document, a revenue line without a cost centre) is the validation suites' job, not this module's:
such lines are read and conformed, and carry ``source_line_ref``, ``document_ref`` and
``source_line_number`` (the physical line in the file, header = 1) for the report.

Speed, measured with pyarrow 26 on this project's 2-core machine while other work shared it (whole
:func:`read_delivery`: file read, SHA-256 and every check; ~150-byte lines, every one with quoted
text, half with quoted thousands-separated amounts):

- an 8,000-line file (a typical night): 14.5 ms, best of 30. Per stage: values checked and
  conformed 43 %, CSV parse 24 %, RE2 record check 22 %, digest 5 %, UTF-8 and line ends 3 %;
- a 20,000-line file (3 MB): 39-43 ms, best of 15;
- a year of files, 250 x 8,000 = 2 million lines: 5.3 s of CPU (375,000 lines a second; about
  550,000 a second from the per-file best above; 9 s of wall time with the cores shared);
- one 2-million-line file (300 MB, far beyond a real delivery): 5 s, and 2.5 GB of memory.

The checks that are costly per value (real dates) run on each column's distinct values only;
digits are checked with ``binary_length``/``ascii_is_decimal`` rather than regular expressions.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch, empty_lines

log = logging.getLogger(__name__)

FORCE_CODE = "ASC"

#: The data file's header row, exactly as SOURCES.md spells it.
HEADER = (
    "Company Code", "Fiscal Year", "Posting Period", "Document Number", "Line Item",
    "Document Type", "Posting Date", "Document Date", "Cost Centre", "GL Account", "Amount",
    "D/C", "Text", "Vendor", "Reference",
)

#: Keys every control file must carry.
CONTROL_KEYS = ("file", "rows", "total_debit", "total_credit", "sha256")

COMPANY_CODES = ("ASC1", "ASP1")
DOCUMENT_TYPES = ("KR", "KG", "SA", "PR", "DR", "AB")

# [0-9], not \d: Python's \d also matches other scripts' digits.
_DATA_NAME = re.compile(r"ASC_GL_([0-9]{8})_([0-9]{3})\.csv")
_CONTROL_NAME = re.compile(r"ASC_GL_([0-9]{8})_([0-9]{3})\.ctl")
_CONTROL_TOTAL = re.compile(r"[0-9]+\.[0-9]{2}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

_BOM = b"\xef\xbb\xbf"
_MAX_EXAMPLES = 5
#: a record longer than this is refused with its line named: pyarrow's CSV parser (1 MiB blocks)
#: would refuse it anyway, without saying where
_MAX_RECORD_BYTES = 1 << 19

# One CSV field: unquoted without quote or comma, or quoted with quotes doubled inside. Lines
# are split on LF after bare CR/LF were refused, so each ends with CRLF (the last may not).
_FIELD = r'(?:[^",\r\n]*|"(?:[^"\r\n]|"")*")'
_RECORD_PATTERN = "^" + _FIELD + ("," + _FIELD) * (len(HEADER) - 1) + r"(?:\r\n)?$"

# Amounts: two decimals, '.' point, thousands separators only in correct groups of three.
_AMOUNT_PATTERN = r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\.[0-9]{2}$"
# numeric(15,2) in the warehouse: at most 13 digits before the point.
_MAX_AMOUNT_DIGITS = 15
_DATE_PATTERN = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$"
_DATE_FORMAT = "%d.%m.%Y"


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One ASC delivery whose control file has arrived: the data file and its control file.

    ``name`` is the data file's name as delivered; the paths are resolved (symlinks followed, and
    checked to stay inside the inbound folder).
    """

    name: str
    data_path: Path
    control_path: Path
    business_date: dt.date
    sequence: int


class _Rejected(Exception):
    """A delivery fails a check: the message names the file, line, expected and found."""


# --------------------------------------------------------------------------------------------
# discovery


def discover_deliveries(inbound: Path) -> list[Delivery]:
    """The deliveries ready in ``inbound``, in the order they must load: (business_date, sequence).

    A data file counts only once its control file is there (SAP writes the control file last);
    one without is still being written and is left alone. Names that are not
    ``ASC_GL_<YYYYMMDD>_<NNN>.csv`` are ignored with a warning and never opened, and so is a
    name that resolves (through a symlink) outside ``inbound``.
    """
    root = Path(inbound).resolve(strict=True)
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    names = {p.name for p in entries}
    deliveries: list[Delivery] = []
    for entry in entries:
        name = entry.name
        match = _DATA_NAME.fullmatch(name)
        if match is None:
            control_match = _CONTROL_NAME.fullmatch(name)
            if control_match is not None:
                if name[: -len(".ctl")] + ".csv" not in names:
                    log.warning("%s: control file without its data file %s.csv in %s; ignored",
                                name, name[: -len(".ctl")], root)
            elif entry.is_dir():
                log.debug("%s: folder in %s; ignored", name, root)
            else:
                log.warning("%s: not an ASC delivery name (expected ASC_GL_<YYYYMMDD>_<NNN>.csv or "
                            ".ctl) in %s; ignored", name, root)
            continue
        try:
            business_date = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            log.warning("%s: %s is not a real date (expected YYYYMMDD); ignored", name, match.group(1))
            continue
        data_path = _inside(root, name)
        if data_path is None:
            continue
        control_name = name[: -len(".csv")] + ".ctl"
        if control_name not in names:
            log.debug("%s: no control file %s yet, still being written; left alone", name, control_name)
            continue
        control_path = _inside(root, control_name)
        if control_path is None:
            continue
        deliveries.append(Delivery(name=name, data_path=data_path, control_path=control_path,
                                   business_date=business_date, sequence=int(match.group(2))))
    deliveries.sort(key=lambda d: (d.business_date, d.sequence))
    return deliveries


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` resolved, or None (with a warning) when it leaves ``root`` or is no file."""
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        log.warning("%s: resolves to %s, outside the inbound folder %s; ignored", name, path, root)
        return None
    if not path.is_file():
        log.warning("%s: not a regular file in %s; ignored", name, root)
        return None
    return path


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes as lowercase hex, read in chunks (the file is never held whole)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


# --------------------------------------------------------------------------------------------
# reading


def read_delivery(delivery: Delivery) -> Batch:
    """Read, check and conform one delivery.

    Never raises for bad content: a delivery that fails a check comes back as a Batch rejected
    whole (``error`` names the file, the line where there is one, what was expected and what was
    found; ``lines`` is empty). Raises only for OS errors (a file unreadable or gone).

    ``rows_read`` is the number of data records once the CSV structure is known to be sound
    (0 when the delivery is rejected before that); the debit and credit totals are the file's
    own sums once its amounts parse (0 before). ``meta["control"]`` holds the control file's
    values as written (``rows`` as int, ``sha256`` lowercased, any unknown key kept) plus
    ``total_debit_pence`` and ``total_credit_pence``.
    """
    control_bytes = delivery.control_path.read_bytes()
    data = delivery.data_path.read_bytes()
    batch = Batch(
        force_code=FORCE_CODE,
        source_ref=delivery.name,
        digest=hashlib.sha256(data).hexdigest(),
        lines=empty_lines(),
        business_date=delivery.business_date,
        sequence=delivery.sequence,
        meta={"control": {}},
    )
    try:
        control = _parse_control(control_bytes, delivery)
        batch.meta["control"] = control
        if batch.digest != control["sha256"]:
            raise _Rejected(
                f"SHA-256 of the data file is {batch.digest}, expected {control['sha256']} as its "
                f"control file {delivery.control_path.name} says (changed or incomplete file)")
        _check_encoding(data)
        body = _check_header(data)
        records = _check_structure(body)
        batch.rows_read = len(records)
        if len(records) != control["rows"]:
            raise _Rejected(f"{len(records)} data rows in the file, expected {control['rows']} as its "
                            f"control file {delivery.control_path.name} says (rows=)")
        raw = _read_columns(body, len(records))
        lines, debit, credit = _conform(raw)
        batch.total_debit_pence, batch.total_credit_pence = debit, credit
        for key, found in (("total_debit", debit), ("total_credit", credit)):
            expected = control[key + "_pence"]
            if found != expected:
                raise _Rejected(
                    f"{key.replace('_', ' ')} of the file's lines is {_pounds(found)}, expected "
                    f"{_pounds(expected)} as its control file {delivery.control_path.name} says "
                    f"({key}=), a difference of {_pounds(found - expected)}")
    except _Rejected as rejection:
        batch.reject(f"{delivery.name}: {rejection}")
        batch.raw = None
        return batch
    batch.lines = lines
    batch.raw = raw
    return batch


def _pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, fraction = divmod(abs(pence), 100)
    return f"{sign}{whole:,}.{fraction:02d}"


def _excerpt(text: str, width: int = 80) -> str:
    return repr(text if len(text) <= width else text[:width] + "…")


# stage 1 -------------------------------------------------------------------------------------


def _parse_control(raw: bytes, delivery: Delivery) -> dict:
    """The control file's values: rows as int, totals as exact text and as pence, sha256 lowercase."""
    control_name = delivery.control_path.name
    where = f"control file {control_name}"
    try:
        text = raw.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _Rejected(f"{where} line {line}: expected UTF-8 text, found byte "
                        f"0x{raw[exc.start]:02X} that is not valid UTF-8") from None
    values: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise _Rejected(f"{where} line {number}: expected key=value, found {_excerpt(line)}")
        key, value = key.strip(), value.strip()
        if key in values and values[key] != value:
            raise _Rejected(f"{where} line {number}: {key} given twice, {values[key]!r} on line "
                            f"{line_of[key]} and {value!r} here")
        values[key], line_of[key] = value, number
    missing = [key for key in CONTROL_KEYS if key not in values]
    if missing:
        raise _Rejected(f"{where}: missing {', '.join(missing)}; expected keys {', '.join(CONTROL_KEYS)}, "
                        f"found {', '.join(values) or 'none'}")
    if values["file"] != delivery.name:
        raise _Rejected(f"{where} line {line_of['file']}: names file={values['file']!r}, "
                        f"expected {delivery.name!r} (a control file for another delivery)")
    if not re.fullmatch(r"[0-9]+", values["rows"]):
        raise _Rejected(f"{where} line {line_of['rows']}: expected rows=<whole number>, "
                        f"found rows={values['rows']!r}")
    control: dict = dict(values)
    control["rows"] = int(values["rows"])
    for key in ("total_debit", "total_credit"):
        if not _CONTROL_TOTAL.fullmatch(values[key]):
            raise _Rejected(f"{where} line {line_of[key]}: expected {key}=<amount with 2 decimals, "
                            f"e.g. 4123456.78>, found {key}={values[key]!r}")
        control[key + "_pence"] = int(values[key].replace(".", ""))
    if not _HEX64.fullmatch(values["sha256"]):
        raise _Rejected(f"{where} line {line_of['sha256']}: expected sha256=<64 hex digits>, "
                        f"found sha256={_excerpt(values['sha256'])}")
    control["sha256"] = values["sha256"].lower()
    return control


# stage 3 -------------------------------------------------------------------------------------


def _line_at(data: bytes, offset: int) -> int:
    """The physical line (1-based) holding byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def _check_not_html(data: bytes) -> None:
    """An HTML page (a web server's error page saved as the delivery) is not CSV at all.

    Said before the encoding checks, which would otherwise complain about its missing byte-order
    mark or its line ends: the header row is what it lacks. A CSV ledger file never starts with
    '<' (its header starts 'Company Code').
    """
    head = data[:200].removeprefix(_BOM).decode("utf-8", "replace").lstrip().lower()
    if head.startswith(("<!doctype", "<html", "<?xml", "<head", "<body", "<!--")):
        first_line = data[:200].removeprefix(_BOM).decode("utf-8", "replace").strip().splitlines()[0]
        raise _Rejected(f"line 1 (header): expected the header row {','.join(HEADER)!r}, found an HTML "
                        f"page, not a CSV ledger file (an error page saved as the delivery?): "
                        f"{_excerpt(first_line, 60)}")


def _check_encoding(data: bytes) -> None:
    _check_not_html(data)
    if not data.startswith(_BOM):
        if not data:
            found = "an empty file"
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            found = f"a UTF-16 byte-order mark ({data[:2].hex(' ').upper()}): the file is UTF-16"
        else:
            found = f"{_excerpt(data[:40].decode('utf-8', 'replace'))} (bytes {data[:3].hex(' ').upper()})"
        raise _Rejected(f"line 1: expected a UTF-8 byte-order mark (EF BB BF) at the start, found {found}")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _Rejected(f"line {_line_at(data, nul)}: expected UTF-8 text, found a NUL byte (0x00) at "
                        f"byte {nul} (a UTF-16 file?)")
    if not _is_utf8(data):
        # Python's strict decoder finds the first bad byte; only reached for a bad file
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            context = data[max(line_start, exc.start - 40):exc.start + 20].decode("utf-8", "replace")
            raise _Rejected(f"line {_line_at(data, exc.start)}: expected UTF-8 text, found byte "
                            f"0x{data[exc.start]:02X} that is not valid UTF-8 (byte {exc.start}, in "
                            f"{_excerpt(context)}); the encoding is never guessed") from None
        raise _Rejected("expected UTF-8 text, found bytes that are not valid UTF-8")  # the two disagree
    octets = np.frombuffer(data, dtype=np.uint8)
    line_feeds = np.flatnonzero(octets == 0x0A)
    after_cr = octets[line_feeds - 1] == 0x0D if line_feeds.size and line_feeds[0] > 0 else None
    if after_cr is None and line_feeds.size:  # an LF as the very first byte cannot follow a CR
        after_cr = np.concatenate(([False], octets[line_feeds[1:] - 1] == 0x0D))
    if after_cr is not None and not after_cr.all():
        bare = line_feeds[~after_cr]
        raise _Rejected(f"line {_line_at(data, int(bare[0]))}: expected CRLF line ends, found a bare LF "
                        f"({bare.size} line(s) end with LF alone)")
    carriage_returns = int(np.count_nonzero(octets == 0x0D))
    if carriage_returns != line_feeds.size:
        first = re.search(rb"\r(?!\n)", data).start()
        raise _Rejected(f"line {_line_at(data, first)}: expected CRLF line ends, found a bare CR "
                        f"({carriage_returns - line_feeds.size} CR(s) without LF)")


def _is_utf8(data: bytes) -> bool:
    """Strict UTF-8 (no surrogates, no overlong forms), checked by Arrow: ~20x Python's decode."""
    offsets = np.array([0, len(data)], dtype=np.int64)
    try:
        pa.LargeStringArray.from_buffers(1, pa.py_buffer(offsets), pa.py_buffer(data)).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


# stage 4 -------------------------------------------------------------------------------------


def _check_header(data: bytes) -> bytes:
    """Check the header row; return the data records' bytes (after the header's CRLF), uncopied."""
    end = data.find(b"\r\n")
    header_text = data[len(_BOM):len(data) if end < 0 else end].decode("utf-8")
    expected = ",".join(HEADER)
    if header_text == expected:
        return pa.py_buffer(data).slice(len(data) if end < 0 else end + 2)
    if not header_text:
        problem = "found an empty line instead"
    else:
        try:
            columns = next(csv.reader([header_text], strict=True))
        except csv.Error:
            columns = header_text.split(",")
        missing = [name for name in HEADER if name not in columns]
        unexpected = [name for name in columns if name not in HEADER]
        problems = []
        if len(missing) == len(unexpected) == 1:
            problems.append(f"column {columns.index(unexpected[0]) + 1} is {unexpected[0]!r} where "
                            f"{missing[0]!r} was expected (renamed?)")
        else:
            if missing:
                problems.append("missing column " + ", ".join(repr(name) for name in missing))
            if unexpected:
                problems.append("unexpected column " + ", ".join(repr(name) for name in unexpected))
        if not problems:
            problems.append("the columns are in another order" if len(columns) == len(HEADER)
                            else "a column appears twice")
        problem = "; ".join(problems)
    raise _Rejected(f"line 1 (header): {problem}; expected exactly {expected!r}, "
                    f"found {_excerpt(header_text, 300)}")


# stage 5 -------------------------------------------------------------------------------------


def _split_lines(body: pa.Buffer) -> pa.Array:
    """The data records as one string per physical line, each with its CRLF, without copying."""
    if body.size == 0:
        return pa.array([], pa.large_string())
    octets = np.frombuffer(body, dtype=np.uint8)
    line_feeds = np.flatnonzero(octets == 0x0A)
    ends = line_feeds + 1
    if octets[-1] != 0x0A:
        ends = np.append(ends, body.size)  # the last record is not ended by CRLF
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    # large_string: a single file's bytes may exceed the 2 GiB that int32 offsets address
    return pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), body)


def _check_structure(body: pa.Buffer) -> pa.Array:
    """Every record has 15 fields and well-formed quotes; returns the records (one per line)."""
    records = _split_lines(body)
    if len(records) == 0:
        return records
    _check_record_lengths(records)
    well_formed = pc.match_substring_regex(records, _RECORD_PATTERN)
    if pc.all(well_formed).as_py():
        return records
    bad = pc.indices_nonzero(pc.invert(well_formed)).to_pylist()
    examples = []
    for index in bad[:_MAX_EXAMPLES]:
        text = records[index].as_py()
        last_unterminated = index == len(records) - 1 and not text.endswith("\r\n")
        text = text.removesuffix("\r\n")
        problem = _describe_record(text)
        if last_unterminated:
            problem += " (the last line, not ended by CRLF: the file looks truncated)"
        examples.append(f"line {index + 2}: {problem}: {_excerpt(text)}")
    raise _Rejected(f"{len(bad)} malformed record(s), expected {len(HEADER)} comma-separated fields "
                    f"with well-formed quotes and no line break inside a field; " + "; ".join(examples))


def _check_record_lengths(records: pa.Array) -> None:
    """No record longer than :data:`_MAX_RECORD_BYTES`: the CSV parser cannot take a record longer
    than its block, and no field of the contract comes near it (Text is up to 50 characters)."""
    too_long = pc.greater(pc.binary_length(records), _MAX_RECORD_BYTES)
    if not pc.any(too_long).as_py():
        return
    bad = pc.indices_nonzero(too_long).to_pylist()
    examples = []
    for index in bad[:_MAX_EXAMPLES]:
        text = records[index].as_py().removesuffix("\r\n")
        limit = csv.field_size_limit(max(csv.field_size_limit(), len(text)))
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error:
            fields = []
        finally:
            csv.field_size_limit(limit)
        widest = max(range(len(fields)), key=lambda i: len(fields[i]), default=None)
        where = (f"; its longest field is {HEADER[widest]!r} with {len(fields[widest]):,} characters"
                 if widest is not None and len(fields) == len(HEADER) else "")
        examples.append(f"line {index + 2}: {len(text):,} characters{where}: {_excerpt(text)}")
    raise _Rejected(f"{len(bad)} record(s) longer than {_MAX_RECORD_BYTES:,} bytes, expected ledger lines of "
                    "a few hundred bytes (Text is up to 50 characters); " + "; ".join(examples))


def _describe_record(text: str) -> str:
    if not text:
        return "expected a record, found an empty line"
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        if "end of data" in str(exc):
            return "a quoted field is never closed"
        return f"malformed quotes ({exc})"
    if len(fields) != len(HEADER):
        hint = " (an unquoted comma?)" if len(fields) > len(HEADER) else ""
        return f"expected {len(HEADER)} fields, found {len(fields)}{hint}"
    return "malformed quotes (a quote inside an unquoted field)"


# stage 7 -------------------------------------------------------------------------------------


def _read_columns(body: pa.Buffer, record_count: int) -> pa.Table:
    """The 15 columns exactly as read (all strings, null when blank) plus ``source_line_number``."""
    if record_count == 0:
        columns = {name: pa.array([], pa.string()) for name in HEADER}
    else:
        try:
            table = _parse_csv(body)
        except pa.ArrowInvalid as exc:  # the record check above should leave nothing for this
            raise _Rejected(f"the CSV parser refused the records: {exc}") from None
        if table.num_rows != record_count:
            raise _Rejected(f"the CSV parser found {table.num_rows} records where {record_count} lines "
                            f"were counted (please report this file)")
        columns = {name: table.column(name) for name in HEADER}
    columns["source_line_number"] = pa.array(np.arange(2, record_count + 2, dtype=np.int64))
    return pa.table(columns)


def _parse_csv(body: pa.Buffer) -> pa.Table:
    """The records (no header) as 15 string columns; blanks, quoted or not, become nulls."""
    return pa_csv.read_csv(
        body,
        read_options=pa_csv.ReadOptions(column_names=list(HEADER), use_threads=True),
        parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            # every column as text: never let pyarrow infer a number (a float) or a date
            column_types={name: pa.string() for name in HEADER},
            strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
            check_utf8=False,  # checked already, on the whole file
        ),
    )


class _ValueChecks:
    """Collects the failing values of stage 7: counts per column and the first examples."""

    def __init__(self, raw: pa.Table):
        self.raw = raw
        self.failures: list[tuple[int, str, str, str]] = []  # (row, column, expected, found)
        self.count = 0
        self.bad_rows = pa.array(np.zeros(raw.num_rows, dtype=bool))

    def require(self, column: str, valid: pa.Array, expected: str, *, blank_ok: bool = False,
                explain=None) -> None:
        """Record the rows where ``valid`` is not true (a blank is valid only if ``blank_ok``)."""
        values = self.raw.column(column)
        if blank_ok:
            valid = pc.or_kleene(values.is_null(), valid)
        invalid = pc.invert(pc.fill_null(valid, False))
        if not pc.any(invalid).as_py():
            return
        self.bad_rows = pc.or_(self.bad_rows, invalid)
        rows = pc.indices_nonzero(invalid)
        self.count += len(rows)
        for row in rows[:_MAX_EXAMPLES].to_pylist():
            value = values[row].as_py()
            found = "a blank" if value is None else repr(value)
            if explain and value is not None:
                found += explain(value)
            self.failures.append((row, column, expected, found))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        lines = pc.sum(self.bad_rows.cast(pa.int64())).as_py()
        examples = sorted(self.failures)[:_MAX_EXAMPLES]
        raise _Rejected(
            f"{self.count} invalid value(s) on {lines} line(s); "
            + "; ".join(f"line {row + 2}, {column}: expected {expected}, found {found}"
                        for row, column, expected, found in examples))


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(values, pattern)


def _digits(values: pa.Array, shortest: int, longest: int) -> pa.Array:
    """True where the value is ``shortest`` to ``longest`` ASCII digits (cheaper than a regex)."""
    length = pc.binary_length(values)
    return pc.and_(pc.ascii_is_decimal(values),
                   pc.and_(pc.greater_equal(length, shortest), pc.less_equal(length, longest)))


def _integers(values: pa.Array, valid: pa.Array, to: pa.DataType) -> pa.Array:
    """``values`` cast to integers where ``valid``; 0 elsewhere (those rows are rejected anyway)."""
    return pc.cast(pc.if_else(pc.fill_null(valid, False), values, "0"), to)


def _per_distinct(values: pa.ChunkedArray, compute) -> tuple:
    """``compute`` run on the column's distinct values only, its results spread back over the rows.

    Dates and cost centres repeat heavily (a day's file holds a handful of posting dates), so the
    costly checks run on a few hundred values instead of every line.
    """
    distinct = pc.unique(values)
    position = pc.index_in(values, value_set=distinct)  # a null finds the null among the distinct
    return tuple(pc.take(result, position) for result in compute(distinct))


def _dates(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(date32 values, valid): ``DD.MM.YYYY`` that names a real day (31.02.2016 does not)."""
    shaped = pc.fill_null(_matches(values, _DATE_PATTERN), False)
    stamps = pc.strptime(pc.if_else(shaped, values, "01.01.1970"), format=_DATE_FORMAT, unit="s",
                         error_is_null=True)
    # strptime rolls 31.02 over into March: a real date keeps the day and month it was written with
    written_day = _integers(pc.utf8_slice_codeunits(values, 0, 2), shaped, pa.int64())
    written_month = _integers(pc.utf8_slice_codeunits(values, 3, 5), shaped, pa.int64())
    valid = pc.and_(shaped, pc.fill_null(pc.and_(pc.equal(pc.day(stamps), written_day),
                                                 pc.equal(pc.month(stamps), written_month)), False))
    return pc.cast(pc.if_else(valid, stamps, pa.scalar(0, stamps.type)), pa.date32()), valid


def _exact_sum(pence: pa.Array) -> int:
    """Sum of int64 pence without overflow (arrow's int64 sum wraps silently)."""
    if len(pence) == 0:
        return 0
    largest = pc.max(pc.abs(pence)).as_py()
    if largest * len(pence) < 2**63:
        return pc.sum(pence).as_py()
    return int(pc.sum(pc.cast(pence, pa.decimal128(19, 0))).as_py())


def _conform(raw: pa.Table) -> tuple[pa.Table, int, int]:
    """Check every value and build the conformed lines; returns (lines, debit pence, credit pence)."""
    if raw.num_rows == 0:
        return empty_lines(), 0, 0
    col = {name: raw.column(name) for name in HEADER}
    checks = _ValueChecks(raw)

    checks.require("Company Code", pc.is_in(col["Company Code"], pa.array(COMPANY_CODES)),
                   " or ".join(COMPANY_CODES))
    checks.require("Fiscal Year", _digits(col["Fiscal Year"], 4, 4), "a 4-digit year")
    period_shaped = _digits(col["Posting Period"], 1, 2)
    period = _integers(col["Posting Period"], period_shaped, pa.int16())
    checks.require("Posting Period", pc.and_(period_shaped, pc.and_(pc.greater_equal(period, 1),
                                                                     pc.less_equal(period, 16))),
                   "a period 1 to 16")
    checks.require("Document Number", _digits(col["Document Number"], 10, 10), "10 digits")
    item_shaped = _digits(col["Line Item"], 1, 3)
    line_item = _integers(col["Line Item"], item_shaped, pa.int16())
    checks.require("Line Item", pc.and_(item_shaped, pc.greater_equal(line_item, 1)), "a line item 1 to 999")
    checks.require("Document Type", pc.is_in(col["Document Type"], pa.array(DOCUMENT_TYPES)),
                   "one of " + ", ".join(DOCUMENT_TYPES))
    posting_date, posting_ok = _per_distinct(col["Posting Date"], _dates)
    checks.require("Posting Date", posting_ok, "a real date DD.MM.YYYY")
    _, document_date_ok = _per_distinct(col["Document Date"], _dates)
    checks.require("Document Date", document_date_ok, "a real date DD.MM.YYYY or a blank", blank_ok=True)
    cost_centre = col["Cost Centre"]
    cost_centre_ok = pc.and_(pc.starts_with(cost_centre, "AS"),
                             _digits(pc.utf8_slice_codeunits(cost_centre, 2), 6, 6))
    checks.require("Cost Centre", cost_centre_ok, "AS and 6 digits, or a blank", blank_ok=True)
    checks.require("GL Account", _digits(col["GL Account"], 6, 6), "6 digits")

    amount = col["Amount"]
    digits = pc.replace_substring(pc.replace_substring(amount, ",", ""), ".", "")
    amount_ok = pc.and_(pc.fill_null(_matches(amount, _AMOUNT_PATTERN), False),
                        pc.less_equal(pc.utf8_length(pc.fill_null(digits, "")), _MAX_AMOUNT_DIGITS))
    checks.require("Amount", amount_ok,
                   "a non-negative amount with 2 decimals, '.' point, thousands separators optional "
                   "(e.g. 12,345.67)", explain=_explain_amount)
    debit_credit = col["D/C"]
    checks.require("D/C", pc.is_in(debit_credit, pa.array(["S", "H"])), "S (debit) or H (credit)")
    checks.raise_if_any()

    pence = pc.cast(digits, pa.int64())
    is_debit = pc.equal(debit_credit, "S")
    zero = pa.scalar(0, pa.int64())
    debit = _exact_sum(pc.if_else(is_debit, pence, zero))
    credit = _exact_sum(pc.if_else(is_debit, zero, pence))

    company, fiscal_year, document_number = col["Company Code"], col["Fiscal Year"], col["Document Number"]
    lines = pa.Table.from_arrays(
        [
            pa.repeat(FORCE_CODE, raw.num_rows),
            pc.binary_join_element_wise(company, fiscal_year, document_number,
                                        pc.cast(line_item, pa.string()), "/"),
            pc.binary_join_element_wise(company, fiscal_year, document_number, "/"),
            raw.column("source_line_number"),
            pc.cast(fiscal_year, pa.int16()),
            period,
            posting_date,
            col["Cost Centre"],
            col["GL Account"],
            pc.if_else(is_debit, pence, pc.negate(pence)),
            col["Document Type"],
            col["Text"],
            col["Vendor"],
            col["Reference"],
        ],
        schema=CONFORMED_SCHEMA,
    )
    return lines, debit, credit


def _explain_amount(value: str) -> str:
    """Why an amount failed, in the finance team's words (only for the message's examples)."""
    if value.startswith("-"):
        return " (negative: the sign belongs in D/C)"
    if not re.search(r"[0-9]", value):
        return " (not a number)"
    if re.fullmatch(r"[0-9,]+\.[0-9]{2}", value):
        if len(value.replace(",", "")) - 1 > _MAX_AMOUNT_DIGITS:
            return f" (more than {_MAX_AMOUNT_DIGITS - 2} digits before the point)"
        return " (thousands separators out of place)"
    if re.fullmatch(r"[0-9,]*(?:\.[0-9]*)?", value):
        return " (not exactly 2 decimals)"
    return ""
