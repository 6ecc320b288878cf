"""Plain SQL files under ``sql/``, rendered for a dialect.

The DDL and views are written once, as SQL a DBA can read. Two things differ between PostgreSQL and
SQLite, and the files name them with a Jinja expression instead of repeating themselves:

``{{ money("SUM(f.amount_pence)") }}``
    an exact amount in pounds from integer pence. PostgreSQL: ``numeric(15,2)``. SQLite has no
    decimal type and would store a ``NUMERIC`` column as binary floating point, so there an amount
    is the exact decimal text (``'-1234.56'``); sums are always taken over the integer pence.
``{{ fixed("key_ppm", 6, 7) }}``
    the same for any exact decimal kept as an integer count of its smallest unit (here parts per
    million as ``numeric(7,6)``).
``{{ money_type }}``
    the column type holding such an amount: ``numeric(15,2)``, or ``text`` on SQLite.
``{{ dialect }}``
    ``postgresql`` or ``sqlite``, for the rare ``{% if dialect == 'postgresql' %}`` block
    (row-level security, roles, grants).

Statements are separated by a line holding only ``;``-terminated SQL; :func:`statements` splits on
semicolons at line ends outside ``$$`` bodies.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2
import sqlalchemy as sa

from alliance_finance.core.paths import SQL_DIR

_env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)

#: a template compiled once per text: every run renders the views several times (their digest says
#: whether they are current), and compiling is most of a render's cost
_template = functools.lru_cache(maxsize=512)(_env.from_string)


def fixed(dialect: str):
    def _fixed(integer_expr: str, places: int, digits: int) -> str:
        """An exact decimal with ``places`` decimal places (``digits`` in all) from an integer count of
        its smallest unit: ``numeric(digits, places)``, or its exact text on SQLite."""
        scale = 10 ** places
        if dialect == "postgresql":
            return f"(({integer_expr})::numeric / {scale})::numeric({digits},{places})"
        e = f"({integer_expr})"
        return (
            f"(CASE WHEN {e} IS NULL THEN NULL ELSE "
            f"(CASE WHEN {e} < 0 THEN '-' ELSE '' END) || (abs({e}) / {scale}) || '.' || "
            f"substr('{'0' * (places - 1)}' || (abs({e}) % {scale}), -{places}, {places}) END)"
        )

    return _fixed


def money(dialect: str):
    def _money(pence_expr: str) -> str:
        return fixed(dialect)(pence_expr, 2, 15)

    return _money


def scaled(a: str, b: str, c: str) -> str:
    """``a x b / c`` rounded half away from zero to an integer, exactly, in 64-bit integer arithmetic.

    The in-year figures scale money by a ratio of money (CHART.md: a target x baseline to date /
    baseline for the year; a run rate). ``a x b`` can pass 2^63 (30 million pounds x 200 million
    pounds, in pence), which PostgreSQL refuses and SQLite would turn into a binary float. So ``b`` is
    split at a million: a x b = a x (b div M) x M + a x (b mod M), and the division carried as long
    division, every step below 2^63 while |a| x |b| / 10^6 and |c| x 10^6 are (amounts up to about
    nine thousand million pounds). ``a``, ``b``, ``c`` are integer column names or expressions;
    NULL when any is NULL or ``c`` is 0.
    """
    m = 1_000_000
    x = f"(abs({a}) * (abs({b}) / {m}))"
    low = f"(({x} % abs({c})) * {m} + abs({a}) * (abs({b}) % {m}))"
    return (f"(CASE WHEN {a} IS NULL OR {b} IS NULL OR {c} IS NULL OR {c} = 0 THEN NULL ELSE "
            f"(CASE WHEN (({a} < 0) <> (({b} < 0) <> ({c} < 0))) THEN -1 ELSE 1 END) * "
            f"(({x} / abs({c})) * {m} + {low} / abs({c}) + CASE WHEN 2 * ({low} % abs({c})) >= abs({c}) THEN 1 ELSE 0 END) END)")


def money_type(dialect: str) -> str:
    """The column type of an exact amount in pounds: ``numeric(15,2)``, or exact decimal ``text`` on SQLite."""
    return "numeric(15,2)" if dialect == "postgresql" else "text"


def render(sql_or_path: str | Path, dialect: str, **params) -> str:
    """Render a SQL file (a path relative to ``sql/`` or absolute) or SQL text for a dialect.

    ``params`` are further template variables (e.g. the relation a mapping query reads from).
    """
    if isinstance(sql_or_path, Path) or (isinstance(sql_or_path, str) and sql_or_path.endswith(".sql")):
        path = Path(sql_or_path)
        if not path.is_absolute():
            path = SQL_DIR / path
        text = path.read_text(encoding="utf-8")
    else:
        text = sql_or_path
    return _template(text).render(dialect=dialect, money=money(dialect), fixed=fixed(dialect),
                                         money_type=money_type(dialect), scaled=scaled,
                                         **params)


_SPLIT = re.compile(r";[ \t]*(?:--[^\n]*)?\n")


def statements(sql: str) -> list[str]:
    """Split rendered SQL into statements (``;`` at a line end), keeping ``$$ ... $$`` bodies whole."""
    out: list[str] = []
    buf: list[str] = []
    in_dollar = False
    for line in sql.splitlines(keepends=True):
        if line.count("$$") % 2 == 1:
            in_dollar = not in_dollar
        buf.append(line)
        if not in_dollar and _SPLIT.search(line if line.endswith("\n") else line + "\n"):
            stmt = "".join(buf).strip()
            if stmt.rstrip(";").strip() and not all(
                l.strip().startswith("--") or not l.strip() for l in stmt.splitlines()
            ):
                out.append(stmt.rstrip().rstrip(";"))
            buf = []
    tail = "".join(buf).strip()
    if tail and not all(l.strip().startswith("--") or not l.strip() for l in tail.splitlines()):
        out.append(tail.rstrip(";"))
    return out


def execute_statements(conn: sa.Connection, sql: str) -> None:
    """Execute rendered SQL statement by statement, in the connection's transaction.

    Through the driver's own cursor without parameters, so that ``%`` (PostgreSQL's modulo) is SQL,
    not a placeholder.
    """
    cursor = conn.connection.driver_connection.cursor()
    try:
        for statement in statements(sql):
            cursor.execute(statement)
    finally:
        cursor.close()
