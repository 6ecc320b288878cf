"""Shared builders of warehouses and hand-built batches for the warehouse, finance, report and
third-force tests (a helper module, so that no test module imports another).

Batches are built in code from the contract (``ledger.Batch`` with ``CONFORMED_SCHEMA`` lines) for
any configured force; warehouses are made the way the runner prepares them: the real schema
(``migrate.upgrade``), the forces from a forces file (``warehouse.forces.sync_forces``), then the
reference data or, for the finance views, the common chart and lines written straight into the
fact table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import pyarrow as pa
import sqlalchemy as sa

from alliance_finance.config.forces import ForceConfig, load_forces
from alliance_finance.config.reference import load_reference
from alliance_finance.core import fiscal
from alliance_finance.core.ledger import CONFORMED_SCHEMA, Batch, QuarantinedLine
from alliance_finance.core.money import decimal_to_pence
from alliance_finance.marts import budgets
from alliance_finance.marts.seeds import load_finance_seeds, sync_finance_seeds
from alliance_finance.warehouse import locks, mapping, migrate, summaries
from alliance_finance.warehouse.engine import make_engine
from alliance_finance.warehouse.forces import sync_forces

D = Decimal

DAY = dt.date(2016, 4, 5)

# -- helpers (imported by the other warehouse and pipeline tests) ---------------------------------


def line(ref: str, account: str, cost_centre: str | None, pence: int, *, force: str = "ASC",
         fiscal_year: int = 2016, period: int = 1, posting_date: dt.date = DAY, number: int = 2,
         text: str | None = "stationery, \"best\" quality") -> dict:
    """One conformed line; ``ref`` is the source_line_ref (its document is the ref without the last part)."""
    return {
        "force_code": force, "source_line_ref": ref, "document_ref": ref.rsplit("/", 1)[0],
        "source_line_number": number, "fiscal_year": fiscal_year, "period": period,
        "posting_date": posting_date, "cost_centre": cost_centre, "local_account": account,
        "amount_pence": pence, "document_type": "SA" if force == "ASC" else "GL", "line_text": text,
        "vendor": None, "reference": "",
    }


def lines_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CONFORMED_SCHEMA)


def _totals(rows: list[dict]) -> tuple[int, int]:
    return (sum(r["amount_pence"] for r in rows if r["amount_pence"] > 0),
            -sum(r["amount_pence"] for r in rows if r["amount_pence"] < 0))


def asc_batch(rows: list[dict], *, day: dt.date = DAY, sequence: int = 1, error: str | None = None) -> Batch:
    """An ASC delivery of these lines, named as SAP names it."""
    debit, credit = _totals(rows)
    name = f"ASC_GL_{day:%Y%m%d}_{sequence:03d}.csv"
    return Batch("ASC", name, hashlib.sha256(repr((name, rows)).encode()).hexdigest(), lines_table(rows),
                 rows_read=len(rows), total_debit_pence=debit, total_credit_pence=credit,
                 business_date=day, sequence=sequence, error=error)


def wp_batch(rows: list[dict], journal_ids: list[int], *, quarantine: list[QuarantinedLine] = (),
             label: str = "FY2016 P01") -> Batch:
    """A WP extract covering ``journal_ids`` (their good lines in ``rows``, bad ones quarantined)."""
    debit, credit = _totals(rows)
    return Batch("WP", f"WP ERP gl_journal {label}", hashlib.sha256(repr(rows).encode()).hexdigest(),
                 lines_table(rows), quarantine=list(quarantine), rows_read=len(rows) + len(quarantine),
                 total_debit_pence=debit, total_credit_pence=credit,
                 meta={"journal_ids": journal_ids, "fiscal_year": 2016, "period": 1,
                       "max_posted_at": "2016-04-30T18:00:00"})


def balanced_document(prefix: str, pence: int, *, account: str = "504100", cost_centre: str = "AS100010",
                      **kw) -> list[dict]:
    """A two-line document: a debit on a revenue account, the credit to trade creditors."""
    return [line(f"{prefix}/1", account, cost_centre, pence, number=kw.pop("number", 2), **kw),
            line(f"{prefix}/2", "200100", None, -pence, **kw)]


def force_batch(force_code: str, rows: list[dict], *, label: str = "extract 1",
                document_ids: Sequence[int] = (), quarantine: list[QuarantinedLine] = ()) -> Batch:
    """A batch of any force read from a database source (no delivery date), as an ERP extract is."""
    debit, credit = _totals(rows)
    return Batch(force_code, f"{force_code} ERP gl_journal {label}", hashlib.sha256(repr(rows).encode()).hexdigest(),
                 lines_table(rows), quarantine=list(quarantine), rows_read=len(rows) + len(quarantine),
                 total_debit_pence=debit, total_credit_pence=credit,
                 meta={"journal_ids": list(document_ids), "fiscal_year": 2016, "period": 1,
                       "max_posted_at": "2016-04-30T18:00:00"})


def prepare(url: str, forces: Sequence[ForceConfig] | None = None) -> sa.Engine:
    """A warehouse at head holding the forces of ``forces`` (default dags/forces.yaml)."""
    migrate.upgrade(url, forces=forces)
    engine = make_engine(url)
    sync_forces(engine, forces)
    return engine


def ready_warehouse(url: str, reference_dir: Path | None = None,
                    forces: Sequence[ForceConfig] | None = None) -> sa.Engine:
    """A warehouse at head with the forces and the reference data applied, as the runner prepares it."""
    engine = prepare(url, forces)
    mapping.sync_reference(engine, reference_dir, forces=forces)
    return engine


def query(engine: sa.Engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def fact_lines(engine: sa.Engine) -> list[tuple]:
    """Every fact line's content (not its batch id), in a dialect-neutral form, sorted."""
    rows = query(engine, "SELECT force_code, source_line_ref, document_ref, source_line_number, fiscal_year, "
                         "period, posting_date, cost_centre, local_account, objective_code, subjective_code, "
                         "amount_pence, document_type, line_text, vendor, reference FROM fact_ledger_line")
    return sorted(tuple(str(v) if isinstance(v, dt.date) else v for v in r) for r in rows)


def fact_checksum(engine: sa.Engine) -> tuple[int, int, str]:
    """Order-independent: line count, net pence, and an MD5 over the sorted lines."""
    rows = fact_lines(engine)
    return len(rows), sum(r[11] for r in rows), hashlib.md5(repr(rows).encode()).hexdigest()


def codes(engine: sa.Engine) -> dict[str, tuple[str, str]]:
    """source_line_ref -> (objective_code, subjective_code)."""
    return {r[0]: (r[1], r[2]) for r in query(
        engine, "SELECT source_line_ref, objective_code, subjective_code FROM fact_ledger_line")}


def batches(engine: sa.Engine) -> list[tuple]:
    return query(engine, "SELECT batch_id, source_ref, status, superseded_by, rows_read, rows_loaded, "
                         "rows_quarantined, error FROM etl_batch ORDER BY batch_id")



@contextlib.contextmanager
def lock_held_by_another_run(engine: sa.Engine, force_code: str):
    """Inside the block, another thread holds ``force_code``'s load lock, as a concurrent run would."""
    holding, release = threading.Event(), threading.Event()

    def other_run():
        with locks.force_load_lock(engine, force_code, wait_seconds=1):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert holding.wait(10), f"the other run never took {force_code}'s lock"
        yield
    finally:
        release.set()
        thread.join()


# -- the finance views' hand-built ledger ----------------------------------------------------------

# (force, fiscal year, period, cost centre, objective, subjective, amount in pounds: debit minus credit)
LEDGER = [
    # FY 2014: the baseline
    ("ASC", 2014, 3, "AS200010", "OS04", "OFF_PAY", "600000.01"),
    ("ASC", 2014, 5, "AS200020", "SF06", "SUPP", "400000.00"),
    ("ASC", 2014, 6, "AS200010", "OS04", "INC_FEES", "-50000.00"),
    ("ASC", 2014, 7, "AS100010", "LP01", "OFF_PAY", "500000.00"),
    ("ASC", 2014, 12, "AS900010", "CC02", "PEN", "100000.00"),
    ("ASC", 2014, 12, None, "BS00", "BS", "999999.99"),
    ("WP", 2014, 4, "7100", "SF02", "STF_PAY", "400000.00"),
    ("WP", 2014, 8, "1102", "LP02", "OFF_PAY", "300000.00"),
    ("WP", 2014, 13, "1102", "LP02", "OFF_OT", "0.01"),
    # FY 2015: WP pays ASC 30,000.00 for a shared service (not on a programme cost centre: not a
    # programme settlement) and ASC books the same income
    ("ASC", 2015, 2, "AS200010", "OS04", "OFF_PAY", "500000.00"),
    ("ASC", 2015, 3, "AS310100", "SF09", "STF_PAY", "120000.00"),
    ("ASC", 2015, 9, "AS310100", "SF09", "INC_PART", "-30000.00"),
    ("ASC", 2015, 4, "AS100010", "LP01", "OFF_PAY", "520000.00"),
    ("ASC", 2015, 6, "AS200010", "OS04", "UNMAPPED", "99.99"),
    ("WP", 2015, 2, "7100", "SF02", "STF_PAY", "350000.00"),
    ("WP", 2015, 9, "7100", "SF02", "PART_PAY", "30000.00"),
    ("WP", 2015, 5, "1102", "LP02", "OFF_PAY", "290000.00"),
    ("WP", 2015, 7, "9999", "UNMAPPED", "SUPP", "1234.56"),
    # FY 2016: WP pays 50,000.00 towards the programme (on its programme cost centre 7650) but ASC
    # books only 45,000.00; ASC pays WP 10,000.00 for a service, agreed
    ("ASC", 2016, 1, "AS310200", "SF06", "SUPP", "200000.00"),
    ("ASC", 2016, 2, "AS200010", "OS04", "OFF_PAY", "450000.00"),
    ("ASC", 2016, 3, "AS100010", "LP01", "OFF_PAY", "480000.00"),
    ("ASC", 2016, 10, "AS310200", "SF06", "INC_PART", "-45000.00"),
    ("ASC", 2016, 11, "AS200020", "SF02", "PART_PAY", "10000.00"),
    ("ASC", 2016, 12, None, "BS00", "BS", "123.45"),
    ("WP", 2016, 1, "7650", "SF06", "COMMS", "100000.01"),
    ("WP", 2016, 2, "7100", "SF02", "STF_PAY", "300000.00"),
    ("WP", 2016, 3, "1102", "LP02", "OFF_PAY", "310000.00"),
    ("WP", 2016, 10, "7650", "SF06", "PART_PAY", "50000.00"),
    ("WP", 2016, 11, "7100", "SF02", "INC_PART", "-10000.00"),
    ("WP", 2016, 12, "7650", "SF06", "INC_GRANT", "-0.02"),
]


def posting_date(fiscal_year: int, period: int) -> dt.date:
    """The last day of the period's month (adjustment periods: 31 March)."""
    year, month = fiscal.period_month(fiscal_year, period)
    first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def seed_dimensions(conn: sa.Connection, reference_dir: Path | None = None,
                    forces: Sequence[ForceConfig] | None = None) -> None:
    """dim_objective and dim_subjective from the project's reference files (the common chart), and the
    maps (as the runner seeds them: the finance seeds' programme cost centres are checked against them)."""
    mapping.seed_maps(conn, load_reference(reference_dir, forces))
    ref = load_reference()
    conn.execute(sa.text(
        "INSERT INTO dim_objective (objective_code, objective_name, function_code, function_name, alliance_scope) "
        "VALUES (:objective_code, :objective_name, :function_code, :function_name, :alliance_scope) "
        "ON CONFLICT (objective_code) DO NOTHING"), ref.objectives)
    conn.execute(sa.text(
        "INSERT INTO dim_subjective (subjective_code, subjective_name, sercop_group, kind) "
        "VALUES (:subjective_code, :subjective_name, :sercop_group, :kind) "
        "ON CONFLICT (subjective_code) DO NOTHING"), ref.subjectives)


def add_batch(conn: sa.Connection, force_code: str, source_ref: str, status: str = "loaded",
              business_date: dt.date | None = None, rows_quarantined: int = 0, error: str | None = None) -> int:
    """An etl_batch row; returns its batch_id."""
    now = dt.datetime(2017, 4, 2, 1, 30)
    return conn.execute(sa.text(
        "INSERT INTO etl_batch (force_code, source_ref, status, business_date, rows_read, rows_loaded, "
        "rows_quarantined, error, started_at, finished_at) VALUES (:force, :ref, :status, :bd, 0, 0, :rq, :error, "
        ":now, :now) RETURNING batch_id"),
        {"force": force_code, "ref": source_ref, "status": status, "bd": business_date, "rq": rows_quarantined,
         "error": error, "now": now}).scalar_one()


def partner_accounts(forces: Sequence[ForceConfig] | None = None,
                     reference_dir: Path | None = None) -> dict[tuple[str, str], str]:
    """(force, PART_PAY or INC_PART) -> the first configured partner account the force's chart maps to it."""
    forces = tuple(load_forces() if forces is None else forces)
    ref = load_reference(reference_dir, forces=forces)
    found: dict[tuple[str, str], str] = {}
    for force in forces:
        for account in force.partner_accounts:
            found.setdefault((force.code, ref.subjective_for(force.code, account)), account)
    return found


def add_lines(conn: sa.Connection, ledger: list[tuple], batch_ids: dict[str, int], start: int = 0,
              forces: Sequence[ForceConfig] | None = None, reference_dir: Path | None = None) -> None:
    """Insert ledger lines straight into fact_ledger_line (already mapped, as the loader leaves them).

    A partner flow (PART_PAY, INC_PART) is booked on the force's configured partner account, so the
    views know the other side; any other line on a made-up account named after its subjective.
    """
    partners = partner_accounts(forces, reference_dir)
    rows = []
    for n, (force, fy, period, cost_centre, objective, subjective, amount) in enumerate(ledger, start=start):
        rows.append({
            "force_code": force, "fiscal_year": fy, "period": period, "posting_date": posting_date(fy, period),
            "source_line_ref": f"T/{n}", "document_ref": f"T/{n // 2}", "source_line_number": n + 2,
            "cost_centre": cost_centre, "local_account": partners.get((force, subjective), f"L-{subjective}"), "objective_code": objective,
            "subjective_code": subjective, "amount_pence": decimal_to_pence(D(amount)), "document_type": "SA",
            "batch_id": batch_ids[force],
        })
    conn.execute(sa.text(
        "INSERT INTO fact_ledger_line (force_code, fiscal_year, period, posting_date, source_line_ref, document_ref, "
        "source_line_number, cost_centre, local_account, objective_code, subjective_code, amount_pence, "
        "document_type, batch_id) VALUES (:force_code, :fiscal_year, :period, :posting_date, :source_line_ref, "
        ":document_ref, :source_line_number, :cost_centre, :local_account, :objective_code, :subjective_code, "
        ":amount_pence, :document_type, :batch_id)"), rows)
    # as the loader does in the same transaction: the batch records its lines' posting dates and the
    # summaries the views read follow the lines
    conn.execute(sa.text(
        "UPDATE etl_batch SET first_posting_date = (SELECT MIN(f.posting_date) FROM fact_ledger_line AS f "
        "WHERE f.batch_id = etl_batch.batch_id), last_posting_date = (SELECT MAX(f.posting_date) "
        "FROM fact_ledger_line AS f WHERE f.batch_id = etl_batch.batch_id) WHERE batch_id IN :ids"
    ).bindparams(sa.bindparam("ids", expanding=True)), {"ids": sorted(set(batch_ids.values()))})
    summaries.rebuild(conn)
    budgets.refresh_budget_summary(conn)  # as a run does after its passes: the baseline shapes profiles


def build_warehouse(url: str, ledger: list[tuple] = LEDGER, seeds_dir: Path | None = None,
                    forces: Sequence[ForceConfig] | None = None, reference_dir: Path | None = None) -> sa.Engine:
    """A warehouse at the current schema holding ``ledger``, with batches for the data-quality figures."""
    engine = prepare(url, forces)
    with engine.begin() as conn:
        seed_dimensions(conn, reference_dir, forces)
        if seeds_dir is not None:
            load_finance_seeds(conn, seeds_dir)
        else:
            sync_finance_seeds(conn)
        batch_ids = {}
        for force in dict.fromkeys(r[0] for r in ledger):
            if force == "ASC":  # a delivery superseded by a re-delivery, one rejected, then the good one
                add_batch(conn, "ASC", "ASC_GL_20170330_001.csv", status="superseded",
                          business_date=dt.date(2017, 3, 30))
                add_batch(conn, "ASC", "ASC_GL_20170330_002.csv", status="rejected",
                          business_date=dt.date(2017, 3, 30),
                          error="ASC_GL_20170330_002.csv line 7: expected D/C S or H; found 'X'")
                batch_ids["ASC"] = add_batch(conn, "ASC", "ASC_GL_20170331_001.csv", business_date=dt.date(2017, 3, 31))
            else:
                batch_ids[force] = add_batch(conn, force, f"{force} extract FY 2016 P12",
                                             rows_quarantined=3 if force == "WP" else 0)
        if ledger:
            add_lines(conn, ledger, batch_ids, forces=forces, reference_dir=reference_dir)
    return engine


def write_seeds(directory: Path, *, targets: str | None = None, keys: str = "", deflators: str = "",
                centres: str | None = None, budgets: str = "", closes: str = "") -> Path:
    """A seeds folder: the project's defaults unless a file's rows are given (``budgets`` and
    ``closes``: the rows of budgets.csv and period_closes.csv under their header)."""
    from alliance_finance.marts.seeds import SEEDS_DIR

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "savings_targets.csv").write_text(
        targets if targets is not None else (SEEDS_DIR / "savings_targets.csv").read_text(encoding="utf-8"),
        encoding="utf-8")
    (directory / "sharing_key.csv").write_text("valid_from_fy,force_code,weight,basis\n" + keys, encoding="utf-8")
    (directory / "deflators.csv").write_text("fiscal_year,index,source\n" + deflators, encoding="utf-8")
    (directory / "programme_cost_centres.csv").write_text(
        centres if centres is not None else (SEEDS_DIR / "programme_cost_centres.csv").read_text(encoding="utf-8"),
        encoding="utf-8")
    for name, rows in (("budgets.csv", budgets), ("period_closes.csv", closes)):
        header = (SEEDS_DIR / name).read_text(encoding="utf-8").splitlines()[0]
        (directory / name).write_text(header + "\n" + rows, encoding="utf-8")
    return directory


