"""The ``sap_files`` source format: SAP general-ledger files, from inbound folder to a Batch.

A force on this format (Avon and Somerset today) is configured in ``dags/forces.yaml``: its
``source`` names the inbound folder, the file name prefix, its company codes and its cost-centre
prefix (:class:`~.layout.SapLayout`); nothing in this package names a force. Each business night SAP
writes ``<prefix>_<YYYYMMDD>_<NNN>.csv`` and then, once that is complete, its control file
``<prefix>_<YYYYMMDD>_<NNN>.ctl`` (SOURCES.md). :func:`discover_deliveries` lists
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

How fast it reads is in docs/performance.md ("The readers alone"). The checks that are costly per value (real dates) run on each column's distinct values only;
digits are checked with ``binary_length``/``ascii_is_decimal`` rather than regular expressions.

The package's modules, in the order a delivery meets them: :mod:`.layout` (the SAP layout and a
force's names), :mod:`.deliveries` (discovery), :mod:`.control` (stage 1), :mod:`.parsing` (stages 3
to 5 and the columns), :mod:`.conform` (stages 7 and 8), :mod:`.read` (one delivery, every stage),
:mod:`.digests` (the processed files' remembered SHA-256) and :mod:`.reader` (the force's reader:
what is pending, read in groups).
"""

from alliance_finance.sources.sap_files.deliveries import Delivery, discover_deliveries, file_digest
from alliance_finance.sources.sap_files.digests import FileDigests
from alliance_finance.sources.sap_files.layout import CONTROL_KEYS, DOCUMENT_TYPES, HEADER, SapLayout
from alliance_finance.sources.sap_files.reader import SapFilesReader


def __getattr__(name: str):
    # deferred on purpose: reading a delivery brings pyarrow and numpy, which finding nothing new never needs
    if name == "read_delivery":
        from alliance_finance.sources.sap_files.read import read_delivery

        return read_delivery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["CONTROL_KEYS", "DOCUMENT_TYPES", "HEADER", "Delivery", "FileDigests", "SapFilesReader", "SapLayout",
           "discover_deliveries", "file_digest", "read_delivery"]
