"""Stages 3 to 5 of reading a delivery, and its columns: encoding, header row, CSV structure.

Everything here works on the whole file's bytes with numpy, pyarrow and one RE2 pattern; Python
looks at single records only to word the message about a failing one.
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from alliance_finance.sources.sap_files.layout import BOM, HEADER, MAX_EXAMPLES, Rejected, excerpt

#: a record longer than this is refused with its line named: pyarrow's CSV parser (1 MiB blocks)
#: would refuse it anyway, without saying where
_MAX_RECORD_BYTES = 1 << 19

# One CSV field: unquoted without quote or comma, or quoted with quotes doubled inside. Lines
# are split on LF after bare CR/LF were refused, so each ends with CRLF (the last may not).
_FIELD = r'(?:[^",\r\n]*|"(?:[^"\r\n]|"")*")'
_RECORD_PATTERN = "^" + _FIELD + ("," + _FIELD) * (len(HEADER) - 1) + r"(?:\r\n)?$"


def _line_at(data: bytes, offset: int) -> int:
    """The physical line (1-based) holding byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def _check_not_html(data: bytes) -> None:
    """An HTML page (a web server's error page saved as the delivery) is not CSV at all.

    Said before the encoding checks, which would otherwise complain about its missing byte-order
    mark or its line ends: the header row is what it lacks. A CSV ledger file never starts with
    '<' (its header starts 'Company Code').
    """
    head = data[:200].removeprefix(BOM).decode("utf-8", "replace").lstrip().lower()
    if head.startswith(("<!doctype", "<html", "<?xml", "<head", "<body", "<!--")):
        first_line = data[:200].removeprefix(BOM).decode("utf-8", "replace").strip().splitlines()[0]
        raise Rejected(f"line 1 (header): expected the header row {','.join(HEADER)!r}, found an HTML "
                        f"page, not a CSV ledger file (an error page saved as the delivery?): "
                        f"{excerpt(first_line, 60)}")


def check_encoding(data: bytes) -> None:
    _check_not_html(data)
    if not data.startswith(BOM):
        if not data:
            found = "an empty file"
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            found = f"a UTF-16 byte-order mark ({data[:2].hex(' ').upper()}): the file is UTF-16"
        else:
            found = f"{excerpt(data[:40].decode('utf-8', 'replace'))} (bytes {data[:3].hex(' ').upper()})"
        raise Rejected(f"line 1: expected a UTF-8 byte-order mark (EF BB BF) at the start, found {found}")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise Rejected(f"line {_line_at(data, nul)}: expected UTF-8 text, found a NUL byte (0x00) at "
                        f"byte {nul} (a UTF-16 file?)")
    if not _is_utf8(data):
        # Python's strict decoder finds the first bad byte; only reached for a bad file
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            context = data[max(line_start, exc.start - 40):exc.start + 20].decode("utf-8", "replace")
            raise Rejected(f"line {_line_at(data, exc.start)}: expected UTF-8 text, found byte "
                            f"0x{data[exc.start]:02X} that is not valid UTF-8 (byte {exc.start}, in "
                            f"{excerpt(context)}); the encoding is never guessed") from None
        raise Rejected("expected UTF-8 text, found bytes that are not valid UTF-8")  # the two disagree
    octets = np.frombuffer(data, dtype=np.uint8)
    line_feeds = np.flatnonzero(octets == 0x0A)
    after_cr = octets[line_feeds - 1] == 0x0D if line_feeds.size and line_feeds[0] > 0 else None
    if after_cr is None and line_feeds.size:  # an LF as the very first byte cannot follow a CR
        after_cr = np.concatenate(([False], octets[line_feeds[1:] - 1] == 0x0D))
    if after_cr is not None and not after_cr.all():
        bare = line_feeds[~after_cr]
        raise Rejected(f"line {_line_at(data, int(bare[0]))}: expected CRLF line ends, found a bare LF "
                        f"({bare.size} line(s) end with LF alone)")
    carriage_returns = int(np.count_nonzero(octets == 0x0D))
    if carriage_returns != line_feeds.size:
        first = re.search(rb"\r(?!\n)", data).start()
        raise Rejected(f"line {_line_at(data, first)}: expected CRLF line ends, found a bare CR "
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


def check_header(data: bytes) -> bytes:
    """Check the header row; return the data records' bytes (after the header's CRLF), uncopied."""
    end = data.find(b"\r\n")
    header_text = data[len(BOM):len(data) if end < 0 else end].decode("utf-8")
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
    raise Rejected(f"line 1 (header): {problem}; expected exactly {expected!r}, "
                    f"found {excerpt(header_text, 300)}")


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


def check_structure(body: pa.Buffer) -> pa.Array:
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
    for index in bad[:MAX_EXAMPLES]:
        text = records[index].as_py()
        last_unterminated = index == len(records) - 1 and not text.endswith("\r\n")
        text = text.removesuffix("\r\n")
        problem = _describe_record(text)
        if last_unterminated:
            problem += " (the last line, not ended by CRLF: the file looks truncated)"
        examples.append(f"line {index + 2}: {problem}: {excerpt(text)}")
    raise Rejected(f"{len(bad)} malformed record(s), expected {len(HEADER)} comma-separated fields "
                    f"with well-formed quotes and no line break inside a field; " + "; ".join(examples))


def _check_record_lengths(records: pa.Array) -> None:
    """No record longer than :data:`_MAX_RECORD_BYTES`: the CSV parser cannot take a record longer
    than its block, and no field of the contract comes near it (Text is up to 50 characters)."""
    too_long = pc.greater(pc.binary_length(records), _MAX_RECORD_BYTES)
    if not pc.any(too_long).as_py():
        return
    bad = pc.indices_nonzero(too_long).to_pylist()
    examples = []
    for index in bad[:MAX_EXAMPLES]:
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
        examples.append(f"line {index + 2}: {len(text):,} characters{where}: {excerpt(text)}")
    raise Rejected(f"{len(bad)} record(s) longer than {_MAX_RECORD_BYTES:,} bytes, expected ledger lines of "
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


# the columns -------------------------------------------------------------------------------------


def read_columns(body: pa.Buffer, record_count: int) -> pa.Table:
    """The 15 columns exactly as read (all strings, null when blank) plus ``source_line_number``."""
    if record_count == 0:
        columns = {name: pa.array([], pa.string()) for name in HEADER}
    else:
        try:
            table = _parse_csv(body)
        except pa.ArrowInvalid as exc:  # the record check above should leave nothing for this
            raise Rejected(f"the CSV parser refused the records: {exc}") from None
        if table.num_rows != record_count:
            raise Rejected(f"the CSV parser found {table.num_rows} records where {record_count} lines "
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

