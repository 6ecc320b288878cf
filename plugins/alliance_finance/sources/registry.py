"""The reader of each source format: a force's ``source_format`` in ``dags/forces.yaml`` names one.

Adding a format is one package under ``alliance_finance/sources/`` whose ``reader`` module has a
class implementing :class:`~alliance_finance.sources.base.SourceReader`, one line in
:data:`READERS`, and the format's ``source`` keys in ``dags/forces.schema.json`` (and its name in
``config.forces.SOURCE_FORMATS``). Adding a force on an existing format is configuration only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from alliance_finance.config.forces import ForcesFileError

if TYPE_CHECKING:  # pragma: no cover
    from alliance_finance.config.forces import ForceConfig
    from alliance_finance.config.settings import Settings
    from alliance_finance.sources.base import SourceReader

#: source_format -> "module:class" of its reader. Imported when a reader is first made, not here: a
#: reader brings pyarrow, numpy and SQLAlchemy, which the DAG files (that list forces) do not need.
READERS = {
    "sap_files": "alliance_finance.sources.sap_files.reader:SapFilesReader",
    "erp_sql": "alliance_finance.sources.erp_sql.reader:ErpSqlReader",
}


def reader_for(force: "ForceConfig", settings: "Settings") -> "SourceReader":
    """The reader of ``force``'s ``source_format``, made for ``settings``.

    Raises :class:`~alliance_finance.config.forces.ForcesFileError` naming the forces file and the
    force when no reader exists for its format.
    """
    target = READERS.get(force.source_format)
    if target is None:
        raise ForcesFileError(f"{settings.forces_file}: force {force.code}: no reader for source_format "
                              f"{force.source_format!r} (readers: {', '.join(READERS)})")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(force, settings)
