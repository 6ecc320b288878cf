-- Finance's own data (issue #6): savings targets, sharing-key overrides, deflators and the
-- programme cost centres. Finance edits the CSV files in seeds/; finance.load_finance_seeds
-- replaces the rows of these tables from them (docs/finance.md says how).
--
-- Money is integer pence, like every money column of the warehouse; the views expose it exactly
-- with money(). Ratios are integers too (weights in hundredths, index values in ten-thousandths),
-- so every figure derived from them is exact integer arithmetic, the same on PostgreSQL and SQLite.

-- Cumulative savings each force (or ALL: both together) should have made by the end of a fiscal
-- year, on one alliance scope. A target holds for later years until a later row replaces it.
CREATE TABLE savings_target (
    fiscal_year     integer      NOT NULL,
    force_code      varchar(8)   NOT NULL,
    alliance_scope  varchar(16)  NOT NULL,
    target_pence    bigint       NOT NULL,
    note            varchar(400),
    PRIMARY KEY (fiscal_year, force_code, alliance_scope)
);

-- Overrides of the default sharing key (each force's share of the FY 2014 alliance-scope NRE).
-- From valid_from_fy on, until a later valid_from_fy, each force's key is its weight over the sum
-- of the weights for that year: headcount, a funding formula, or a percentage.
CREATE TABLE sharing_key (
    valid_from_fy      integer      NOT NULL,
    force_code         varchar(8)   NOT NULL,
    weight_hundredths  bigint       NOT NULL CHECK (weight_hundredths >= 0),
    basis              varchar(400) NOT NULL,
    PRIMARY KEY (valid_from_fy, force_code)
);

-- A price index by fiscal year (e.g. the GDP deflator) to restate NRE in FY 2014 prices.
-- Empty by default: real-terms figures are then NULL and the report shows cash terms only.
CREATE TABLE deflator (
    fiscal_year            integer      NOT NULL PRIMARY KEY,
    index_ten_thousandths  bigint       NOT NULL CHECK (index_ten_thousandths > 0),
    source                 varchar(400)
);

-- The cost centres on which a force incurs alliance programme costs for both forces.
CREATE TABLE programme_cost_centre (
    force_code        varchar(8)    NOT NULL,
    cost_centre       varchar(32)   NOT NULL,
    cost_centre_name  varchar(200)  NOT NULL,
    programme         varchar(200)  NOT NULL,
    PRIMARY KEY (force_code, cost_centre)
);
