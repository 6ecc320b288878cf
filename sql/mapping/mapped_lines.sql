-- The common chart's codes for ledger lines, computed set-wise from the map tables: the one
-- statement of the mapping rule, used both when a batch is loaded (lines = the staging table) and
-- when the reference data changed and history is restated (lines = fact_ledger_line).
--
--   subjective: the force's map_local_account entry for the line's account, else UNMAPPED
--               (suspense), and
--   objective:  BS00 on a balance-sheet account, whatever the cost centre; else the cost
--               centre's map_cost_centre entry effective in the line's fiscal year (bounds
--               inclusive, NULL open: seeding refuses overlaps, so at most one matches),
--               else UNMAPPED.
--
-- Template variables: lines (a relation), columns (what to carry through from it, as line.<col>).
SELECT {{ columns }},
       COALESCE(account_map.subjective_code, 'UNMAPPED') AS mapped_subjective_code,
       CASE WHEN subjective.kind = 'balance_sheet' THEN 'BS00'
            ELSE COALESCE(cost_centre_map.objective_code, 'UNMAPPED')
       END AS mapped_objective_code
FROM {{ lines }} AS line
LEFT JOIN map_local_account AS account_map
       ON account_map.force_code = line.force_code
      AND account_map.local_account = line.local_account
LEFT JOIN dim_subjective AS subjective
       ON subjective.subjective_code = account_map.subjective_code
LEFT JOIN map_cost_centre AS cost_centre_map
       ON cost_centre_map.force_code = line.force_code
      AND cost_centre_map.cost_centre = line.cost_centre
      AND (cost_centre_map.valid_from_fy IS NULL OR cost_centre_map.valid_from_fy <= line.fiscal_year)
      AND (cost_centre_map.valid_to_fy IS NULL OR line.fiscal_year <= cost_centre_map.valid_to_fy)
