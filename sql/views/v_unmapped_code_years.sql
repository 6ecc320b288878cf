-- v_unmapped_codes by fiscal year: per force, unmapped code and fiscal year, the first and last
-- posting date, lines and money in suspense. The same rule as v_unmapped_codes, read from the same
-- summary (unmapped_summary). `alliance-finance mapping export` reads it to show finance each code's
-- years; the rows of a code add up to its v_unmapped_codes row.
CREATE VIEW v_unmapped_code_years AS
SELECT force_code,
       code_type,
       NULLIF(local_code, '') AS local_code,
       fiscal_year,
       MIN(posting_date) AS first_posting_date,
       MAX(posting_date) AS last_posting_date,
       CAST(SUM(line_count) AS bigint) AS line_count,
       CAST(SUM(amount_pence) AS bigint) AS amount_pence,
       {{ money('SUM(amount_pence)') }} AS amount
FROM unmapped_summary
GROUP BY force_code, code_type, local_code, fiscal_year;
