"""The story the sample ledgers tell, as money: each force's budget per cost centre and account,
fiscal year by fiscal year.

FY 2014 is the year before the alliance. Avon and Somerset (ASC) spends about £276m net and Wiltshire
(WP) about £105m; pay is four fifths of spending. From FY 2015 the functions the alliance shares
(``alliance_scope = 'alliance'`` in common_objectives.csv) cost less each year, until the two forces
together save about £30m by FY 2018 (Wiltshire about £10m of it by FY 2017), net of the programme's own
costs, while local policing holds level in cash terms. Wiltshire pays ASC for the Brunel major crime
team, ASC pays Wiltshire for dog training; the two ledgers agree on those flows except in FY 2016, when
Wiltshire failed to accrue the March contribution. New cost centres and accounts turn up before the
reference data knows them, and two cost centres change function in a restructure.

A :class:`YearPlan` is a pure function of (force, fiscal year, seed): it does not depend on the scale or
on which other years are generated, so money totals are the same at every scale. Every amount is
integer pence; floating point only draws the random *weights* that decide how a total is divided, and
:func:`allocate` turns weights into integer pence that add up exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alliance_finance.config.reference import ReferenceData

FORCES = ("ASC", "WP")
FORCE_NUMBER = {"ASC": 1, "WP": 2}
BASELINE_FY = 2014
LAST_STORY_FY = 2018
POUND = 100

#: FY 2014 net revenue expenditure, pounds
NRE_BASELINE = {"ASC": 276_000_000, "WP": 105_000_000}
#: pay (officer, staff and PCSO pay, overtime and employer pensions) as a share of spending
PAY_SHARE = (4, 5)
#: ledger lines per fiscal year at scale 1 (both forces together: 100,000)
LINES_PER_YEAR = {"ASC": 72_000, "WP": 28_000}

#: cumulative savings on alliance-scope functions against FY 2014, pounds (net of programme costs)
SAVINGS = {
    "ASC": {2015: 4_400_000, 2016: 8_900_000, 2017: 13_900_000, 2018: 19_100_000},
    "WP": {2015: 3_100_000, 2016: 6_600_000, 2017: 10_100_000, 2018: 10_900_000},
}
#: local-scope spending against FY 2014, per mille: level in cash terms
LOCAL_INDEX = {2014: 1000, 2015: 1012, 2016: 995, 2017: 1017, 2018: 1026}

#: the alliance programme's cost centres and their spending, pounds
PROGRAMME = {
    "ASC": {
        "AS310100": ({2015: 1_600_000, 2016: 1_900_000, 2017: 1_500_000, 2018: 900_000},
                     {"stf_sal": .45, "stf_ni": .05, "stf_pen": .08, "prof_fees": .32, "travel": .10}),
        "AS310200": ({2016: 2_400_000, 2017: 3_100_000, 2018: 1_200_000},
                     {"prof_fees": .40, "hardware": .25, "software": .25, "stf_sal": .10}),
    },
    "WP": {
        "7650": ({2016: 900_000, 2017: 1_300_000, 2018: 600_000},
                 {"stf_sal": .25, "stf_pen": .05, "software": .35, "hardware": .35}),
    },
}

#: codes the ledgers use before the reference data knows them: (cost centre, name, roles, pounds by FY)
NEW_CODES = {
    "ASC": [
        ("AS310300", "Alliance Change Office", {"prof_fees": .7, "travel": .3},
         {2016: 180_000, 2017: 260_000, 2018: 210_000}),
        ("AS300600", "ICT Services", {"bwv_storage": 1.0}, {2017: 90_000, 2018: 120_000}),
    ],
    "WP": [
        ("7600", "Information Services", {"bwv_storage": 1.0}, {2016: 110_000, 2017: 140_000, 2018: 160_000}),
        ("7660", "Digital Investigation Hub", {"equipment": .6, "prof_fees": .4}, {2017: 150_000, 2018: 200_000}),
    ],
}
NEW_COST_CENTRE_NAMES = {"AS310300": "Alliance Change Office", "7660": "Digital Investigation Hub"}

#: intra-alliance money (pounds in FY 2014, growing each year)
BRUNEL_CONTRIBUTION = 4_200_000   # WP pays ASC for the Brunel major crime team, monthly
BRUNEL_GROWTH_PERMILLE = 25
DOG_TRAINING_RECHARGE = 600_000   # ASC pays WP for dog training hosted at Wiltshire's school, quarterly
DOG_GROWTH_PERMILLE = 30
#: the fiscal year in which Wiltshire did not accrue the March Brunel contribution
PARTNER_MISMATCH_FY = 2016
PARTNER_CELLS = {
    "ASC": {"partner_in": ("AS250100", "inc_part"), "partner_out": ("AS230300", "part_pay")},
    "WP": {"partner_out": ("4300", "part_pay"), "partner_in": ("3600", "inc_part")},
}

#: capital financing (interest half-yearly; minimum revenue provision and revenue contributions at
#: year end), pounds in FY 2014, growing 5% a year
CAPITAL_FINANCING = {"ASC": (7_000_000, "AS900100"), "WP": (2_600_000, "9100")}

#: income in FY 2014: (cost centre, role, pounds, timing); grants grow 1% a year, the rest 2%
INCOME = {
    "ASC": [
        ("AS280100", "inc_grant_ho", 12_500_000, "quarterly"),
        ("AS230400", "inc_grant_ho", 1_200_000, "quarterly"),
        ("AS250400", "inc_grant_ho", 800_000, "quarterly"),
        ("AS220300", "inc_grant_oth", 1_800_000, "quarterly"),
        ("AS950200", "inc_grant_oth", 1_600_000, "quarterly"),
        ("AS260100", "inc_grant_oth", 400_000, "half_yearly"),
        ("AS210300", "inc_fees", 600_000, "monthly"),
        ("AS220200", "inc_fees", 1_100_000, "monthly"),
        ("AS300300", "inc_fees", 300_000, "monthly"),
        ("AS200100", "inc_fees", 400_000, "monthly"),
        ("AS230100", "inc_sps", 2_400_000, "monthly"),
        ("AS301200", "inc_misc", 900_000, "monthly"),
        ("AS300500", "inc_misc", 500_000, "monthly"),
        ("AS900100", "inc_interest", 350_000, "half_yearly"),
    ],
    "WP": [
        ("6500", "inc_grant", 2_600_000, "quarterly"),
        ("3300", "inc_grant", 700_000, "quarterly"),
        ("9600", "inc_grant", 900_000, "quarterly"),
        ("3700", "inc_grant", 400_000, "half_yearly"),
        ("2500", "inc_fees", 300_000, "monthly"),
        ("3200", "inc_fees", 500_000, "monthly"),
        ("2100", "inc_fees", 200_000, "monthly"),
        ("3400", "inc_sps", 800_000, "monthly"),
        ("8200", "inc_misc", 300_000, "monthly"),
        ("9100", "inc_interest", 120_000, "half_yearly"),
    ],
}

#: local accounts each role books to, with weights when a role spreads over several
ROLE_ACCOUNTS = {
    "ASC": {
        "off_sal": {"500100": .94, "500110": .06}, "off_ni": {"500120": 1}, "off_ot": {"500200": 1},
        "off_pen": {"503100": 1}, "stf_sal": {"501100": .95, "501110": .05}, "stf_ni": {"501120": 1},
        "stf_ot": {"501200": 1}, "stf_pen": {"503200": 1}, "pcso_sal": {"502100": .93, "502110": .07},
        "injury_pen": {"503300": 1},
        "training": {"504100": 1}, "recruitment": {"504200": 1}, "travel": {"504300": 1},
        "rent": {"600100": 1}, "rates": {"600200": 1}, "energy": {"600300": .7, "600310": .3},
        "cleaning": {"600400": 1}, "repairs": {"600500": 1}, "fuel": {"610100": 1},
        "vehicle_repairs": {"610200": 1}, "vehicle_lease": {"610300": 1}, "car_allow": {"610400": 1},
        "equipment": {"620100": 1}, "uniform": {"620200": 1}, "forensic": {"620300": 1},
        "custody_health": {"620400": 1}, "printing": {"620500": 1}, "prof_fees": {"620600": 1},
        "air_support": {"620700": 1}, "bwv_storage": {"620800": 1}, "telephony": {"630100": 1},
        "software": {"630200": 1}, "hardware": {"630300": 1}, "pay_la": {"640100": 1},
        "pay_agencies": {"640200": 1}, "part_pay": {"640300": 1}, "interest": {"700100": 1},
        "mrp": {"700200": 1}, "rcco": {"700300": 1}, "inc_fees": {"400100": 1}, "inc_sps": {"400200": 1},
        "inc_grant_ho": {"410100": 1}, "inc_grant_oth": {"410200": 1}, "inc_part": {"420100": 1},
        "inc_misc": {"430100": 1}, "inc_interest": {"430200": 1},
    },
    "WP": {
        "off_sal": {"41000": .62, "41010": .24, "41020": .08, "41100": .06}, "off_ni": {"41300": 1},
        "off_ot": {"41200": 1}, "off_pen": {"44000": 1}, "stf_sal": {"42000": .95, "42100": .05},
        "stf_ni": {"42300": 1}, "stf_ot": {"42200": 1}, "stf_pen": {"44100": 1},
        "pcso_sal": {"43000": .93, "43100": .07}, "injury_pen": {"44200": 1},
        "training": {"45000": 1}, "recruitment": {"45100": 1}, "travel": {"52300": 1},
        "rent": {"51000": 1}, "rates": {"51100": 1}, "energy": {"51200": 1}, "cleaning": {"51300": 1},
        "repairs": {"51400": 1}, "fuel": {"52000": 1}, "vehicle_repairs": {"52100": 1},
        "vehicle_lease": {"52200": 1}, "car_allow": {"52300": 1}, "equipment": {"53000": 1},
        "uniform": {"53100": 1}, "forensic": {"53200": 1}, "custody_health": {"53300": 1},
        "printing": {"53500": 1}, "prof_fees": {"53400": 1}, "air_support": {"55100": 1},
        "bwv_storage": {"53600": 1}, "telephony": {"54000": 1}, "software": {"54100": 1},
        "hardware": {"54200": 1}, "pay_la": {"55000": 1}, "pay_agencies": {"55100": 1},
        "part_pay": {"55200": 1}, "interest": {"56000": 1}, "mrp": {"56100": .8}, "rcco": {"56100": 1},
        "inc_fees": {"61000": 1}, "inc_sps": {"61100": 1}, "inc_grant": {"62000": 1},
        "inc_part": {"63000": 1}, "inc_misc": {"64000": 1}, "inc_interest": {"64000": 1},
    },
}

#: balance-sheet accounts that balance each kind of document
BALANCE_SHEET = {
    "ASC": {"bank": "100100", "debtors": "110100", "creditors": "200100", "accruals": "210100",
            "payroll": "230100", "partner": "240100", "reserves": "300100"},
    "WP": {"bank": "11000", "debtors": "12000", "creditors": "21000", "accruals": "22000",
           "payroll": "23000", "partner": "24000", "reserves": "31000"},
}

# Pay groups: how a cost centre's pay divides between its accounts.
PAY_GROUP_ROLES = {
    "off": {"off_sal": .74, "off_ni": .08, "off_pen": .13, "off_ot": .05},
    "staff": {"stf_sal": .74, "stf_ni": .08, "stf_pen": .16, "stf_ot": .02},
    "pcso": {"pcso_sal": .82, "stf_ni": .07, "stf_pen": .11},
    "injury": {"injury_pen": 1.0},
}

NONPAY_MIXES = {
    "general": {"equipment": .22, "uniform": .08, "printing": .07, "prof_fees": .09, "telephony": .10,
                "training": .12, "travel": .12, "fuel": .10, "vehicle_repairs": .04, "car_allow": .04,
                "recruitment": .02},
    "estates": {"rent": .25, "rates": .2, "energy": .25, "cleaning": .12, "repairs": .18},
    "fleet": {"fuel": .45, "vehicle_repairs": .30, "vehicle_lease": .25},
    "ict": {"software": .40, "hardware": .25, "telephony": .35},
    "forensic": {"forensic": .90, "equipment": .10},
    "custody": {"custody_health": .70, "equipment": .10, "cleaning": .10, "printing": .10},
    "air": {"air_support": 1.0},
    "partnership": {"pay_la": .70, "prof_fees": .30},
    "commissioning": {"pay_agencies": .80, "pay_la": .20},
    "training": {"training": .70, "travel": .20, "equipment": .10},
    "hr": {"recruitment": .40, "training": .20, "prof_fees": .40},
    "legal": {"prof_fees": .90, "printing": .10},
    "insurance": {"prof_fees": 1.0},
}

# objective: share of a force's gross spending (percent), pay fraction, pay groups, non-pay mix
_OBJECTIVE_TABLE = """
LP01 15.0 .93 off=.62,pcso=.30,staff=.08 general
LP02 19.0 .95 off=.92,staff=.08 general
LP03 1.0 .90 off=.6,staff=.4 general
LP04 3.0 .85 off=.6,staff=.4 general
DWP01 1.5 .90 staff=1 general
DWP02 6.5 .88 off=.2,staff=.8 ict
CJA01 4.0 .72 off=.35,staff=.65 custody
CJA02 2.8 .90 off=.2,staff=.8 general
CJA03 0.6 .90 staff=1 general
CJA04 0.6 .80 staff=1 general
RP01 2.6 .90 off=.95,staff=.05 fleet
RP02 0.3 .50 staff=1 fleet
RP03 0.6 .40 staff=1 partnership
OS01 1.0 .85 off=.7,staff=.3 general
OS02 0.7 .00 staff=1 air
OS03 0.6 .80 off=.9,staff=.1 general
OS04 2.2 .90 off=.95,staff=.05 general
OS05 0.4 .85 off=.5,staff=.5 general
OS06 1.3 .92 off=.95,staff=.05 general
INT01 2.0 .93 off=.5,staff=.5 general
INT02 1.2 .93 off=.9,staff=.1 general
INV01 2.6 .92 off=.85,staff=.15 general
INV02 0.8 .92 off=.7,staff=.3 general
INV03 1.5 .92 off=.85,staff=.15 general
INV04 2.0 .92 off=.85,staff=.15 general
INV05 8.0 .94 off=.85,staff=.15 general
PP01 1.0 .90 off=.7,staff=.3 general
PP02 1.4 .93 off=.8,staff=.2 general
PP03 1.4 .93 off=.8,staff=.2 general
PP04 0.8 .93 off=.7,staff=.3 general
PP05 1.4 .93 off=.85,staff=.15 general
PP06 1.0 .93 off=.8,staff=.2 general
IS01 1.4 .85 staff=1 general
IS02 0.7 .05 staff=1 forensic
IS03 0.6 .80 staff=1 forensic
IS04 0.3 .80 staff=1 general
NP01 1.0 .92 off=.9,staff=.1 general
NP02 0.3 .95 off=1 general
SF01 1.6 .80 staff=1 hr
SF02 0.8 .92 staff=1 general
SF03 0.4 .60 staff=1 legal
SF04 1.4 .30 staff=1 fleet
SF05 3.0 .15 staff=1 estates
SF06 3.6 .40 staff=1 ict
SF07 0.6 .92 off=.5,staff=.5 general
SF08 0.3 .85 staff=1 general
SF09 0.5 .90 staff=1 general
SF10 0.3 .90 staff=1 general
SF11 1.0 .60 off=.4,staff=.6 training
SF12 0.8 .90 staff=1 general
SF13 0.6 .95 off=.8,staff=.2 general
CC02 1.6 1.0 injury=1 insurance
CC03 0.6 .00 staff=1 insurance
PCC01 0.4 .70 staff=1 general
PCC02 0.8 .05 staff=1 commissioning
"""


@dataclasses.dataclass(frozen=True)
class ObjectiveProfile:
    weight: float
    pay_fraction: float
    pay_groups: dict[str, float]
    nonpay_mix: str


def _parse_objectives() -> dict[str, ObjectiveProfile]:
    profiles = {}
    for row in _OBJECTIVE_TABLE.strip().splitlines():
        code, weight, pay, groups, mix = row.split()
        pay_groups = {k: float(v) for k, v in (g.split("=") for g in groups.split(","))}
        profiles[code] = ObjectiveProfile(float(weight), float(pay), pay_groups, mix)
    return profiles


OBJECTIVES = _parse_objectives()
PAY_ROLES = frozenset(r for roles in PAY_GROUP_ROLES.values() for r in roles)


@dataclasses.dataclass(frozen=True)
class Cell:
    """Money one cost centre books to one account in a fiscal year, and how it reaches the ledger."""

    cost_centre: str
    account: str
    role: str
    #: payroll, invoice, grant, fees, sps, partner_in, partner_out, capf
    stream: str
    #: payroll, spread (through the year by invoice), monthly, quarterly, half_yearly, P13, P14
    timing: str
    #: debit minus credit, pence: spending positive, income negative
    annual_pence: int


@dataclasses.dataclass(frozen=True)
class Accrual:
    """A year-end accrual (posted in period 12, reversed in period 1 of the next year)."""

    cost_centre: str
    account: str
    role: str
    pence: int


@dataclasses.dataclass
class YearPlan:
    force: str
    fiscal_year: int
    cells: list[Cell]
    #: this year's year-end accruals
    accruals: list[Accrual]
    #: last year's accruals, reversed in this year's period 1
    prior_accruals: list[Accrual]
    #: cell index -> pence the ordinary postings leave for the accrual and its reversal
    accrual_adjustment: dict[int, int]
    #: per cell and period 1-16 (columns 0-15): pence for every timing but ``spread``
    period_amounts: np.ndarray
    #: the March partner contribution the payer forgot to accrue (pence), or 0
    unaccrued_partner_pence: int = 0
    #: the same, recognised in this year's period 1 against reserves (pence), or 0
    prior_year_partner_pence: int = 0


# ------------------------------------------------------------------------------------ integer money

def allocate(total: int, weights) -> np.ndarray:
    """Divide ``total`` pence over ``weights`` (largest remainder): integers that add up exactly.

    The weights may be floats: they only decide the shares. Zero weights get nothing.
    """
    w = np.asarray(weights, dtype=float)
    out = np.zeros(len(w), dtype=np.int64)
    if total == 0 or len(w) == 0:
        return out
    if w.sum() <= 0:
        raise ValueError(f"cannot allocate {total} pence over zero weights")
    sign = 1 if total > 0 else -1
    magnitude = abs(int(total))
    raw = w / w.sum() * magnitude
    base = np.floor(raw).astype(np.int64)
    base[w <= 0] = 0
    remainder = magnitude - int(base.sum())
    fractions = raw - base
    if remainder > 0:
        order = np.argsort(-fractions, kind="stable")
        order = order[w[order] > 0]
        base[order[:remainder]] += 1
    elif remainder < 0:  # float rounding pushed a floor up: take the pennies back from the largest
        order = np.argsort(-base, kind="stable")
        base[order[:-remainder]] -= 1
    return sign * base


def pounds(amount: int) -> int:
    return amount * POUND


def grown(base_pounds: int, fiscal_year: int, permille: int) -> int:
    """A FY 2014 amount grown by ``permille`` a year (pence, exact integer arithmetic)."""
    pence = base_pounds * POUND
    years = fiscal_year - BASELINE_FY
    if years >= 0:
        for _ in range(years):
            pence = pence * (1000 + permille) // 1000
    else:
        for _ in range(-years):
            pence = pence * 1000 // (1000 + permille)
    return pence


def savings_pence(force: str, fiscal_year: int) -> int:
    """Planned cumulative alliance-scope savings against FY 2014 (before the seed's small noise)."""
    if fiscal_year <= BASELINE_FY:
        return 0
    table = SAVINGS[force]
    return pounds(table[min(fiscal_year, LAST_STORY_FY)])


def local_index_permille(fiscal_year: int) -> int:
    if fiscal_year in LOCAL_INDEX:
        return LOCAL_INDEX[fiscal_year]
    if fiscal_year < BASELINE_FY:
        return 1000 - 12 * (BASELINE_FY - fiscal_year)
    return LOCAL_INDEX[LAST_STORY_FY] + 10 * (fiscal_year - LAST_STORY_FY)


def rng_for(seed: int, force: str, fiscal_year: int, *purpose: int) -> np.random.Generator:
    """The random stream for one purpose: independent of scale and of which other years are generated."""
    return np.random.default_rng([seed & 0xFFFFFFFF, FORCE_NUMBER[force], fiscal_year, *purpose])


# ------------------------------------------------------------------------------------ the plan

def scope_of(ref: ReferenceData, force: str, cost_centre: str, fiscal_year: int) -> str:
    """The alliance_scope of the objective a cost centre maps to in a fiscal year (``unmapped`` if none)."""
    objective = ref.objective_for(force, cost_centre, fiscal_year)
    for row in ref.objectives:
        if row["objective_code"] == objective:
            return row["alliance_scope"]
    return "unmapped"


def _role_cells(force: str, cost_centre: str, role: str, pence: int, stream: str, timing: str) -> list[Cell]:
    accounts = ROLE_ACCOUNTS[force][role]
    if len(accounts) > 1 and role in PAY_ROLES and abs(pence) < pounds(1_000_000):
        # small teams: no inspectors, and allowances paid with the salary
        accounts = {"41000": .7, "41010": .3} if force == "WP" and role == "off_sal" else dict(list(accounts.items())[:1])
    codes = list(accounts)
    shares = allocate(pence, [accounts[c] for c in codes])
    return [Cell(cost_centre, code, role, stream, timing, int(p)) for code, p in zip(codes, shares) if p]


def _operating_cost_centres(ref: ReferenceData, force: str, fiscal_year: int) -> list[tuple[str, str]]:
    """(cost centre, objective) of cost centres with ordinary budgets: not capital financing, not the
    partner contribution, not the programme, not the balance sheet."""
    excluded = {CAPITAL_FINANCING[force][1], *PROGRAMME[force]}
    if force == "WP":
        excluded.add(PARTNER_CELLS["WP"]["partner_out"][0])
    seen: dict[str, str] = {}
    for m in ref.cost_centres:
        if m.force_code != force or m.cost_centre in excluded or m.cost_centre in seen:
            continue
        objective = ref.objective_for(force, m.cost_centre, fiscal_year)
        if objective in OBJECTIVES:
            seen[m.cost_centre] = objective
    return sorted(seen.items())


def _baseline(force: str, seed: int, ref: ReferenceData) -> dict[tuple[str, str, str], int]:
    """FY 2014 spending per (cost centre, role, stream) on the operating cost centres, pence.

    Sized so that NRE is exactly the story's figure and pay exactly four fifths of spending.
    """
    rng = rng_for(seed, force, BASELINE_FY, 1)
    income = sum(grown(amount, BASELINE_FY, 10) for _, _, amount, _ in INCOME[force])
    brunel = grown(BRUNEL_CONTRIBUTION, BASELINE_FY, BRUNEL_GROWTH_PERMILLE)
    dogs = grown(DOG_TRAINING_RECHARGE, BASELINE_FY, DOG_GROWTH_PERMILLE)
    partner_income, partner_payment = (brunel, dogs) if force == "ASC" else (dogs, brunel)
    spending = pounds(NRE_BASELINE[force]) + income + partner_income - partner_payment
    pay_total = spending * PAY_SHARE[0] // PAY_SHARE[1]
    capf = grown(CAPITAL_FINANCING[force][0], BASELINE_FY, 50)
    nonpay_total = spending - pay_total - capf

    centres = _operating_cost_centres(ref, force, BASELINE_FY)
    per_objective: dict[str, int] = {}
    for _, objective in centres:
        per_objective[objective] = per_objective.get(objective, 0) + 1
    pay_keys, pay_weights, nonpay_keys, nonpay_weights = [], [], [], []
    for cost_centre, objective in centres:
        profile = OBJECTIVES[objective]
        size = profile.weight / per_objective[objective] * rng.uniform(0.8, 1.2)
        groups = {g: s for g, s in profile.pay_groups.items() if s >= 0.12 or len(profile.pay_groups) == 1}
        group_total = sum(groups.values())
        for group, share in groups.items():
            for role, role_share in PAY_GROUP_ROLES[group].items():
                pay_keys.append((cost_centre, role, "payroll"))
                pay_weights.append(size * profile.pay_fraction * share / group_total * role_share)
        for role, role_share in NONPAY_MIXES[profile.nonpay_mix].items():
            nonpay_keys.append((cost_centre, role, "invoice"))
            nonpay_weights.append(size * (1 - profile.pay_fraction) * role_share * rng.uniform(0.7, 1.3))
    budget: dict[tuple[str, str, str], int] = {}
    for keys, weights, total in ((pay_keys, pay_weights, pay_total), (nonpay_keys, nonpay_weights, nonpay_total)):
        for key, pence in zip(keys, allocate(total, weights)):
            if pence:
                budget[key] = budget.get(key, 0) + int(pence)
    return budget


def _scaled_group(budget: dict, keys: list, target: int, rng: np.random.Generator, noise: float) -> dict:
    """The keys' baseline amounts, each moved by a little noise, together exactly ``target``."""
    weights = [budget[k] * max(0.05, 1 + rng.normal(0, noise)) for k in keys]
    return {k: int(p) for k, p in zip(keys, allocate(target, weights))}


_CACHE: dict[tuple, object] = {}


def _cached(kind: str, force: str, fiscal_year: int, seed: int, ref: ReferenceData, build):
    key = (kind, force, fiscal_year, seed, ref.digest)
    if key not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = build()
    return _CACHE[key]


def _income_pence(force: str, ref: ReferenceData, fiscal_year: int, scope: str) -> int:
    """Income (as a positive amount) booked on cost centres of one scope in a fiscal year."""
    total = 0
    for cost_centre, role, amount, _ in INCOME[force]:
        if scope_of(ref, force, cost_centre, fiscal_year) == scope:
            total += grown(amount, fiscal_year, 10 if role.startswith("inc_grant") else 20)
    return total


def year_cells(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> tuple[list[Cell], np.ndarray]:
    """The year's cells and their pence per period 1-16 (zero for ``spread`` cells)."""
    return _cached("cells", force, fiscal_year, seed, ref,
                   lambda: _build_year_cells(force, fiscal_year, seed, ref))


def _build_year_cells(force: str, fiscal_year: int, seed: int, ref: ReferenceData):
    baseline = _cached("baseline", force, BASELINE_FY, seed, ref, lambda: _baseline(force, seed, ref))
    rng = rng_for(seed, force, fiscal_year, 2)
    scope_now = {cc: scope_of(ref, force, cc, fiscal_year) for cc, _, _ in baseline}
    scope_base = {cc: scope_of(ref, force, cc, BASELINE_FY) for cc, _, _ in baseline}
    groups: dict[str, list] = {}
    for key in sorted(baseline):
        groups.setdefault(scope_now[key[0]], []).append(key)

    # Alliance scope: baseline net spending less the savings, with the programme's costs inside it.
    programme = sum(pounds(by_year.get(fiscal_year, 0)) for by_year, _ in PROGRAMME[force].values())
    alliance_base_gross = sum(v for k, v in baseline.items() if scope_base[k[0]] == "alliance")
    alliance_base_net = alliance_base_gross - _income_pence(force, ref, BASELINE_FY, "alliance")
    saving = savings_pence(force, fiscal_year)
    if saving:
        saving = saving * int(rng.integers(985, 1016)) // 1000
    alliance_gross = alliance_base_net - saving - programme + _income_pence(force, ref, fiscal_year, "alliance")
    index = local_index_permille(fiscal_year)
    years = fiscal_year - BASELINE_FY
    amounts: dict[tuple[str, str, str], int] = {}
    for scope, keys in sorted(groups.items()):
        base_total = sum(baseline[k] for k in keys)
        if scope == "alliance":
            target = alliance_gross
        elif scope == "local":
            target = base_total * index // 1000
        elif scope == "central":
            target = base_total * (1000 + 20 * years) // 1000
        else:
            target = base_total * (1000 + 10 * years) // 1000
        noise = 0.0 if fiscal_year == BASELINE_FY else 0.03
        amounts.update(_scaled_group(baseline, keys, target, rng, noise))

    cells: list[Cell] = []
    for (cost_centre, role, stream), pence in sorted(amounts.items()):
        timing = "payroll" if stream == "payroll" else "spread"
        cells.extend(_role_cells(force, cost_centre, role, pence, stream, timing))
    for cost_centre, (by_year, mix) in PROGRAMME[force].items():
        total = pounds(by_year.get(fiscal_year, 0))
        roles = list(mix)
        for role, pence in zip(roles, allocate(total, [mix[r] for r in roles])):
            stream, timing = ("payroll", "payroll") if role in PAY_ROLES else ("invoice", "spread")
            cells.extend(_role_cells(force, cost_centre, role, int(pence), stream, timing))
    for cost_centre, _, mix, by_year in NEW_CODES[force]:
        total = pounds(by_year.get(min(fiscal_year, LAST_STORY_FY), 0))
        roles = list(mix)
        for role, pence in zip(roles, allocate(total, [mix[r] for r in roles])):
            cells.extend(_role_cells(force, cost_centre, role, int(pence), "invoice", "spread"))
    for cost_centre, role, amount, timing in INCOME[force]:
        growth = 10 if role.startswith("inc_grant") else 20
        stream = "grant" if role.startswith("inc_grant") else ("sps" if role == "inc_sps" else "fees")
        cells.extend(_role_cells(force, cost_centre, role, -grown(amount, fiscal_year, growth), stream, timing))
    brunel = grown(BRUNEL_CONTRIBUTION, fiscal_year, BRUNEL_GROWTH_PERMILLE)
    dogs = grown(DOG_TRAINING_RECHARGE, fiscal_year, DOG_GROWTH_PERMILLE)
    flows = {"ASC": {"partner_in": (-brunel, "monthly"), "partner_out": (dogs, "quarterly")},
             "WP": {"partner_out": (brunel, "monthly"), "partner_in": (-dogs, "quarterly")}}
    for stream, (pence, timing) in flows[force].items():
        cost_centre, role = PARTNER_CELLS[force][stream]
        cells.extend(_role_cells(force, cost_centre, role, pence, stream, timing))
    capf_total = grown(CAPITAL_FINANCING[force][0], fiscal_year, 50)
    capf_cc = CAPITAL_FINANCING[force][1]
    split = allocate(capf_total, [35, 45, 20] if force == "ASC" else [40, 60, 0])
    for role, pence, timing in zip(("interest", "mrp", "rcco"), split, ("half_yearly", "P13", "P14")):
        if pence:
            cells.extend(_role_cells(force, capf_cc, role, int(pence), "capf", timing))

    period_amounts = np.zeros((len(cells), 16), dtype=np.int64)
    for i, cell in enumerate(cells):
        period_amounts[i] = _periods(cell, fiscal_year, rng)
    if force == "WP" and fiscal_year == PARTNER_MISMATCH_FY:
        # Wiltshire did not accrue the March contribution: it never reaches this year's ledger
        i = next(i for i, c in enumerate(cells) if c.stream == "partner_out")
        period_amounts[i, 11] = 0
    return cells, period_amounts


def unaccrued_partner_pence(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> int:
    """The March partner contribution a payer left out of a year, or 0."""
    if force != "WP" or fiscal_year != PARTNER_MISMATCH_FY:
        return 0
    cells, _ = year_cells(force, fiscal_year, seed, ref)
    i = next(i for i, c in enumerate(cells) if c.stream == "partner_out")
    shape = np.zeros(16)
    shape[:12] = 1
    return int(allocate(cells[i].annual_pence, shape)[11])


def year_plan(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> YearPlan:
    """The money of one force's fiscal year, per cost centre and account (see the module's docs)."""
    return _cached("plan", force, fiscal_year, seed, ref, lambda: _build_year_plan(force, fiscal_year, seed, ref))


def _build_year_plan(force: str, fiscal_year: int, seed: int, ref: ReferenceData) -> YearPlan:
    cells, period_amounts = year_cells(force, fiscal_year, seed, ref)
    previous_cells, _ = year_cells(force, fiscal_year - 1, seed, ref)
    plan = YearPlan(force, fiscal_year, cells,
                    accruals=_accruals(force, fiscal_year, seed, cells),
                    prior_accruals=_accruals(force, fiscal_year - 1, seed, previous_cells),
                    accrual_adjustment={}, period_amounts=period_amounts.copy())
    # The ordinary invoices leave room for this year's accrual and make up last year's reversal,
    # so the year's total is the plan's whatever the accruals.
    index_of = {(c.cost_centre, c.account): i for i, c in enumerate(cells) if c.stream == "invoice"}
    for accrual in plan.accruals:
        i = index_of[(accrual.cost_centre, accrual.account)]
        plan.accrual_adjustment[i] = plan.accrual_adjustment.get(i, 0) - accrual.pence
    for accrual in plan.prior_accruals:
        i = index_of.get((accrual.cost_centre, accrual.account))
        if i is not None:
            plan.accrual_adjustment[i] = plan.accrual_adjustment.get(i, 0) + accrual.pence
    plan.unaccrued_partner_pence = unaccrued_partner_pence(force, fiscal_year, seed, ref)
    plan.prior_year_partner_pence = unaccrued_partner_pence(force, fiscal_year - 1, seed, ref)
    return plan


def _accruals(force: str, fiscal_year: int, seed: int, cells: list[Cell]) -> list[Accrual]:
    """A few large invoice budgets accrued at year end (goods received in March, invoiced in April)."""
    rng = rng_for(seed, force, fiscal_year, 3)
    candidates = [c for c in cells if c.stream == "invoice" and c.annual_pence > pounds(20_000)
                  and c.cost_centre not in PROGRAMME[force]
                  and c.cost_centre not in NEW_COST_CENTRE_NAMES and c.role != "bwv_storage"]
    if not candidates:
        return []
    count = min(len(candidates), 24 if force == "ASC" else 12)
    weights = np.array([c.annual_pence for c in candidates], dtype=float)
    chosen = rng.choice(len(candidates), size=count, replace=False, p=weights / weights.sum())
    accruals = []
    for i in sorted(chosen):
        cell = candidates[i]
        pence = cell.annual_pence * int(rng.integers(20, 70)) // 1000
        accruals.append(Accrual(cell.cost_centre, cell.account, cell.role, int(pence)))
    return accruals


# Month shapes: how a year's money falls over periods 1-12.
_SALARY_SHAPE = [1, 1, 1, 1, 1, 1.06, 1.01, 1.01, 1.01, 1.01, 1.01, 1.01]  # pay award from April, paid in September
_OVERTIME_SHAPE = [1.0, 1.1, 1.25, 1.2, 1.1, 0.9, 0.9, 0.9, 1.3, 0.9, 0.8, 0.95]
_EVENTS_SHAPE = [0.6, 0.8, 1.6, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.9, 1.0, 1.1]  # June festivals, football season


def _periods(cell: Cell, fiscal_year: int, rng: np.random.Generator) -> np.ndarray:
    """Pence per period 1-16 of a cell (spread cells are divided later, by their invoices)."""
    shape = np.zeros(16)
    if cell.timing == "spread":
        return np.zeros(16, dtype=np.int64)
    if cell.timing == "payroll":
        shape[:12] = _OVERTIME_SHAPE if cell.role.endswith("_ot") else _SALARY_SHAPE
    elif cell.timing == "monthly":
        shape[:12] = _EVENTS_SHAPE if cell.stream == "sps" else (
            1.0 if cell.stream.startswith("partner") else rng.uniform(0.8, 1.2, 12))
    elif cell.timing == "quarterly":
        shape[[2, 5, 8, 11]] = 1
    elif cell.timing == "half_yearly":
        shape[[5, 11]] = 1
    elif cell.timing == "P13":
        shape[12] = 1
    elif cell.timing == "P14":
        shape[13] = 1
    return allocate(cell.annual_pence, shape)
