"""The SAP file layout every ``sap_files`` force shares, and what is its own (:class:`SapLayout`).

The layout (header row, control keys, document types, amounts, dates) is SAP's and the same for
every force that delivers these files; a force's own names come from its ``source`` entry in
``dags/forces.yaml``: the file name prefix, the company codes and the cost-centre prefix.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, Mapping

from alliance_finance.sources.base import Layout, only_force_of

#: The data file's header row, exactly as SOURCES.md spells it.
HEADER = (
    "Company Code", "Fiscal Year", "Posting Period", "Document Number", "Line Item",
    "Document Type", "Posting Date", "Document Date", "Cost Centre", "GL Account", "Amount",
    "D/C", "Text", "Vendor", "Reference",
)

#: Keys every control file must carry.
CONTROL_KEYS = ("file", "rows", "total_debit", "total_credit", "sha256")

DOCUMENT_TYPES = ("KR", "KG", "SA", "PR", "DR", "AB")

BOM = b"\xef\xbb\xbf"
MAX_EXAMPLES = 5
FORMAT = "sap_files"


@dataclasses.dataclass(frozen=True)
class SapLayout(Layout):
    """What one force's SAP files are named and hold: from its ``source`` entry in forces.yaml."""

    force_code: str
    #: data files are ``<file_prefix>_<YYYYMMDD>_<NNN>.csv``, control files the same with ``.ctl``
    file_prefix: str
    #: the Company Code values its lines may carry
    company_codes: tuple[str, ...]
    #: its cost centres are this prefix and 6 digits
    cost_centre_prefix: str

    @classmethod
    def from_source(cls, force_code: str, source: Mapping[str, Any]) -> "SapLayout":
        return cls(force_code=force_code, file_prefix=source["file_prefix"],
                   company_codes=tuple(source["company_codes"]), cost_centre_prefix=source["cost_centre_prefix"])

    @classmethod
    def default(cls) -> "SapLayout":
        """The layout of the one ``sap_files`` force of ``dags/forces.yaml`` (for callers that name none)."""
        return _default_layout()

    @functools.cached_property
    def data_name(self) -> re.Pattern:
        # [0-9], not \d: Python's \d also matches other scripts' digits.
        return re.compile(re.escape(self.file_prefix) + r"_([0-9]{8})_([0-9]{3})\.csv")

    @functools.cached_property
    def control_name(self) -> re.Pattern:
        return re.compile(re.escape(self.file_prefix) + r"_([0-9]{8})_([0-9]{3})\.ctl")


@functools.lru_cache(maxsize=1)
def _default_layout() -> SapLayout:
    return SapLayout.of(only_force_of(FORMAT, "files these are", "SapLayout"))


class Rejected(Exception):
    """A delivery fails a check: the message names the file, line, expected and found."""



def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, fraction = divmod(abs(pence), 100)
    return f"{sign}{whole:,}.{fraction:02d}"


def excerpt(text: str, width: int = 80) -> str:
    return repr(text if len(text) <= width else text[:width] + "…")

