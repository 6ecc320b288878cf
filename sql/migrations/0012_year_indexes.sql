-- Revision 0012: indexes by year.
--
-- On PostgreSQL, fact_ledger_line's (force_code, fiscal_year, period) B-tree becomes a
-- BRIN index on (fiscal_year, period). Since revisions 0005 and 0011 no finance view reads the lines;
-- what still looks lines up by year and period (drill-down: `alliance-finance explain`, the as-of
-- history, a summary rebuilt) reads whole years or periods of them, and lines arrive in posting order
-- (a night's deliveries and journals), so a block range's minimum and maximum year and period narrow
-- such a read to the blocks that hold them. The B-tree cost every loaded line an index entry and its
-- WAL: on one year at scale 5 (513,165 lines), the database backends' CPU for a whole `run` was
-- 8.1-9.0 s with it and 7.5-7.8 s with the BRIN index (docs/performance.md); the BRIN index is a few
-- pages. autosummarize: a block range is summarised by autovacuum as soon as it is full, rather than
-- read whole by every query until the next VACUUM. A line in a reused block (after superseded lines
-- left) only widens that range: a query reads more blocks, never misses a line.
-- SQLite has no BRIN: its B-tree stays.
{%- if dialect == 'postgresql' %}
DROP INDEX ix_fact_period;
CREATE INDEX ix_fact_period ON fact_ledger_line USING brin (fiscal_year, period) WITH (autosummarize = on);
{%- endif %}

-- unmapped_summary by fiscal year: v_unmapped_code_years for one year read every year's rows (its key
-- starts with the force and the code): on five years at scale 2, 0.24 ms on the server at 1x and 0.46 ms
-- at 4x the history; with this index 0.24 and 0.23 ms. Its rows are the lines in suspense only, so
-- keeping it costs a load next to nothing.
CREATE INDEX ix_unmapped_summary_year ON unmapped_summary (fiscal_year);
