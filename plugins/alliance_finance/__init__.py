"""alliance-finance: the Avon and Somerset / Wiltshire strategic alliance finance pipeline.

Everything the pipeline does lives in this package and imports without Airflow: the CLI, the DAGs
and the tests all call the same functions. Heavy libraries (pandas, pyarrow, Great Expectations,
SQLAlchemy) are imported inside the modules that need them, never here, so that DAG files that
import this package stay cheap to parse.
"""

__version__ = "0.1.0"
