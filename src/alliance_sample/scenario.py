"""The story's figures, read from ``scenario.yaml`` and checked before anything is generated.

:func:`load_scenario` reads the file and checks every value (type, range, and that the roles, pay groups
and non-pay mixes it names are defined in the file); a bad value raises :class:`ScenarioError` naming the
file and the key, e.g. ``scenario.yaml: savings.WP.2017: expected a whole number of pounds >= 0,
got '10.1m'``. :data:`SCENARIO` is the package's own file, loaded once when the generating modules are
first imported (:func:`alliance_sample.generate_sources` imports them before it writes anything), so
``alliance-finance generate`` fails at its start.

Cost centre and account codes must be quoted strings in the file (YAML reads ``7650`` as a number and
``0450`` as an octal one); weights may be written as whole numbers or decimals and are kept as floats.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

SCENARIO_FILE = Path(__file__).with_name("scenario.yaml")
TIMINGS = ("monthly", "quarterly", "half_yearly")


class ScenarioError(ValueError):
    """The scenario file is missing, not YAML, or holds a value the generator cannot use."""


@dataclasses.dataclass(frozen=True)
class ObjectiveProfile:
    """How an objective's cost centres spend: share of the force's spending, pay fraction and mixes."""

    weight: float
    pay_fraction: float
    pay_groups: dict[str, float]
    nonpay_mix: str


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Every figure of the story (see scenario.yaml for what each one means). Money in whole pounds."""

    force_numbers: dict[str, int]
    baseline_fy: int
    last_story_fy: int
    nre_baseline: dict[str, int]
    pay_share: tuple[int, int]
    lines_per_year: dict[str, int]
    savings: dict[str, dict[int, int]]
    local_index: dict[int, int]
    #: force -> cost centre -> (pounds by fiscal year, role weights)
    programme: dict[str, dict[str, tuple[dict[int, int], dict[str, float]]]]
    #: force -> [(cost centre, name, role weights, pounds by fiscal year)]
    new_codes: dict[str, list[tuple[str, str, dict[str, float], dict[int, int]]]]
    #: force -> cost centre -> name
    new_cost_centre_names: dict[str, dict[str, str]]
    brunel_contribution: int
    brunel_growth_permille: int
    dog_training_recharge: int
    dog_growth_permille: int
    partner_mismatch_fy: int
    #: force -> stream (partner_in, partner_out) -> (cost centre, role)
    partner_cells: dict[str, dict[str, tuple[str, str]]]
    #: force -> (pounds, cost centre, weights of interest, minimum revenue provision and revenue contributions)
    capital_financing: dict[str, tuple[int, str, tuple[int, int, int]]]
    year_end_accruals: dict[str, int]
    #: force -> [(cost centre, role, pounds, timing)]
    income: dict[str, list[tuple[str, str, int, str]]]
    role_accounts: dict[str, dict[str, dict[str, float]]]
    #: force -> pay role -> account weights for teams under £1m a year
    small_team_accounts: dict[str, dict[str, dict[str, float]]]
    balance_sheet: dict[str, dict[str, str]]
    pay_group_roles: dict[str, dict[str, float]]
    nonpay_mixes: dict[str, dict[str, float]]
    objectives: dict[str, ObjectiveProfile]

    @property
    def forces(self) -> tuple[str, ...]:
        return tuple(self.force_numbers)


class _Reader:
    """Typed access to the parsed YAML that names the key of any bad value."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, expected: str, value: Any) -> ScenarioError:
        return ScenarioError(f"{self.source}: {key}: expected {expected}, got {value!r}")

    def missing(self, key: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {key}: expected a value, but the key is missing")

    def mapping(self, value: Any, key: str, keys: tuple[str, ...] | None = None) -> dict:
        """A non-empty mapping; with ``keys``, exactly those keys (``key`` "" is the file itself)."""
        if not isinstance(value, dict) or not value:
            raise self.fail(key or "the file", "a mapping", value)
        within = f"{key}." if key else ""
        for k in value:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise self.fail(f"{within}{k}", "a key that is a code, a name or a year (quote codes)", k)
        if keys is not None:
            missing = [k for k in keys if k not in value]
            extra = [k for k in value if k not in keys]
            if missing:
                raise self.missing(f"{within}{missing[0]}")
            if extra:
                raise self.fail(f"{within}{extra[0]}", f"one of the keys {', '.join(keys)}", extra[0])
        return value

    def entries(self, value: Any, key: str, keys: tuple[str, ...]):
        """Each item of a list of mappings with exactly ``keys``, as (its key, the mapping)."""
        if not isinstance(value, list):
            raise self.fail(key, "a list", value)
        for n, entry in enumerate(value):
            at = f"{key}[{n}]"
            yield at, self.mapping(entry, at, keys)

    def integer(self, value: Any, key: str, minimum: int = 0, what: str = "a whole number") -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(key, f"{what} >= {minimum}", value)
        return value

    def weight(self, value: Any, key: str, maximum: float | None = None) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (
                maximum is not None and value > maximum):
            limit = f" and <= {maximum}" if maximum is not None else ""
            raise self.fail(key, f"a number >= 0{limit}", value)
        return float(value)

    def code(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value or not value.isalnum():
            raise self.fail(key, "a code written as a quoted string of letters and digits", value)
        return value

    def text(self, value: Any, key: str, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str) or not value or (choices is not None and value not in choices):
            raise self.fail(key, "one of " + ", ".join(choices) if choices else "a text", value)
        return value

    def year(self, value: Any, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 1990 <= value <= 2100:
            raise self.fail(key, "a fiscal year such as 2016", value)
        return value

    def weights(self, value: Any, key: str, names: tuple[str, ...] | None = None, *, codes: bool = False) -> dict:
        out = {}
        for name, w in self.mapping(value, key).items():
            if codes:
                self.code(name, f"{key}.{name}")
            elif names is not None:
                self.text(name, f"{key}.{name}", names)
            out[name] = self.weight(w, f"{key}.{name}")
        if not any(out.values()):
            raise self.fail(key, "at least one weight above 0", value)
        return out

    def pounds_by_year(self, value: Any, key: str) -> dict[int, int]:
        return {self.year(y, f"{key}.{y}"): self.integer(p, f"{key}.{y}", what="a whole number of pounds")
                for y, p in self.mapping(value, key).items()}


def load_scenario(path: Path = SCENARIO_FILE) -> Scenario:
    """Read and check a scenario file (the package's own by default)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not YAML: {exc}") from exc
    r = _Reader(Path(path).name)
    top = r.mapping(raw, "", _TOP_KEYS)
    numbers = {r.code(f, f"forces.{f}"): r.integer(n, f"forces.{f}", 1) for f, n in r.mapping(top["forces"], "forces").items()}
    forces = tuple(numbers)

    def each_force(key: str, read) -> dict:
        return {f: read(v, f"{key}.{f}") for f, v in r.mapping(top[key], key, forces).items()}

    pay_group_roles = {r.text(g, f"pay_group_roles.{g}"): r.weights(m, f"pay_group_roles.{g}")
                       for g, m in r.mapping(top["pay_group_roles"], "pay_group_roles").items()}
    role_accounts = each_force("role_accounts", lambda v, k: {
        r.text(role, f"{k}.{role}"): r.weights(a, f"{k}.{role}", codes=True) for role, a in r.mapping(v, k).items()})
    roles = tuple(sorted({role for accounts in role_accounts.values() for role in accounts}))
    pay_roles = {role for mix in pay_group_roles.values() for role in mix}
    for g, mix in pay_group_roles.items():
        for role in mix:
            r.text(role, f"pay_group_roles.{g}.{role}", roles)
    nonpay_mixes = {r.text(m, f"nonpay_mixes.{m}"): r.weights(v, f"nonpay_mixes.{m}", roles)
                    for m, v in r.mapping(top["nonpay_mixes"], "nonpay_mixes").items()}
    objectives = {}
    for code, o in r.mapping(top["objectives"], "objectives").items():
        key = f"objectives.{r.code(code, f'objectives.{code}')}"
        o = r.mapping(o, key, ("share", "pay", "pay_groups", "nonpay"))
        objectives[code] = ObjectiveProfile(
            r.weight(o["share"], f"{key}.share", 100), r.weight(o["pay"], f"{key}.pay", 1),
            r.weights(o["pay_groups"], f"{key}.pay_groups", tuple(pay_group_roles)),
            r.text(o["nonpay"], f"{key}.nonpay", tuple(nonpay_mixes)))

    def programme(v, k):
        out = {}
        for cc, entry in r.mapping(v, k).items():
            entry = r.mapping(entry, f"{k}.{cc}", ("by_year", "mix"))
            out[r.code(cc, f"{k}.{cc}")] = (r.pounds_by_year(entry["by_year"], f"{k}.{cc}.by_year"),
                                            r.weights(entry["mix"], f"{k}.{cc}.mix", roles))
        return out

    def new_codes(v, k):
        return [(r.code(entry["cost_centre"], f"{at}.cost_centre"), r.text(entry["name"], f"{at}.name"),
                 r.weights(entry["mix"], f"{at}.mix", roles), r.pounds_by_year(entry["by_year"], f"{at}.by_year"))
                for at, entry in r.entries(v, k, ("cost_centre", "name", "mix", "by_year"))]

    def income(v, k):
        return [(r.code(entry["cost_centre"], f"{at}.cost_centre"), r.text(entry["role"], f"{at}.role", roles),
                 r.integer(entry["pounds"], f"{at}.pounds", what="a whole number of pounds"),
                 r.text(entry["timing"], f"{at}.timing", TIMINGS))
                for at, entry in r.entries(v, k, ("cost_centre", "role", "pounds", "timing"))]

    def partner_cells(v, k):
        out = {}
        for stream, cell in r.mapping(v, k, ("partner_in", "partner_out")).items():
            if not isinstance(cell, list) or len(cell) != 2:
                raise r.fail(f"{k}.{stream}", "[cost centre, role]", cell)
            out[stream] = (r.code(cell[0], f"{k}.{stream}[0]"), r.text(cell[1], f"{k}.{stream}[1]", roles))
        return out

    def capital_financing(v, k):
        v = r.mapping(v, k, ("pounds", "cost_centre", "split"))
        split = r.mapping(v["split"], f"{k}.split", _CAPITAL_FINANCING_ROLES)
        return (r.integer(v["pounds"], f"{k}.pounds", what="a whole number of pounds"),
                r.code(v["cost_centre"], f"{k}.cost_centre"),
                tuple(r.integer(split[role], f"{k}.split.{role}") for role in _CAPITAL_FINANCING_ROLES))

    def small_teams(v, k):
        if v == {}:
            return {}
        return {r.text(role, f"{k}.{role}", tuple(sorted(pay_roles))): r.weights(a, f"{k}.{role}", codes=True)
                for role, a in r.mapping(v, k).items()}

    flows = r.mapping(top["partner_flows"], "partner_flows", _PARTNER_KEYS)
    pay_share = top["pay_share"]
    if not (isinstance(pay_share, list) and len(pay_share) == 2):
        raise r.fail("pay_share", "[numerator, denominator]", pay_share)
    pay_share = (r.integer(pay_share[0], "pay_share[0]"), r.integer(pay_share[1], "pay_share[1]", 1))
    if pay_share[0] > pay_share[1]:
        raise r.fail("pay_share", "a fraction no larger than 1", list(pay_share))
    baseline_fy = r.year(top["baseline_fy"], "baseline_fy")
    local_index = {r.year(y, f"local_index.{y}"): r.integer(v, f"local_index.{y}", 1)
                   for y, v in r.mapping(top["local_index"], "local_index").items()}
    if baseline_fy not in local_index:
        raise r.missing(f"local_index.{baseline_fy}")
    return Scenario(
        force_numbers=numbers, baseline_fy=baseline_fy, last_story_fy=r.year(top["last_story_fy"], "last_story_fy"),
        nre_baseline=each_force("nre_baseline", lambda v, k: r.integer(v, k, 1, "a whole number of pounds")),
        pay_share=pay_share,
        lines_per_year=each_force("lines_per_year", lambda v, k: r.integer(v, k, 1)),
        savings=each_force("savings", r.pounds_by_year), local_index=local_index,
        programme=each_force("programme", programme), new_codes=each_force("new_codes", new_codes),
        new_cost_centre_names=each_force("new_cost_centre_names", lambda v, k: {
            r.code(cc, f"{k}.{cc}"): r.text(n, f"{k}.{cc}") for cc, n in r.mapping(v, k).items()}),
        brunel_contribution=r.integer(flows["brunel_contribution"], "partner_flows.brunel_contribution"),
        brunel_growth_permille=r.integer(flows["brunel_growth_permille"], "partner_flows.brunel_growth_permille"),
        dog_training_recharge=r.integer(flows["dog_training_recharge"], "partner_flows.dog_training_recharge"),
        dog_growth_permille=r.integer(flows["dog_growth_permille"], "partner_flows.dog_growth_permille"),
        partner_mismatch_fy=r.year(flows["mismatch_fy"], "partner_flows.mismatch_fy"),
        partner_cells=each_force("partner_cells", partner_cells),
        capital_financing=each_force("capital_financing", capital_financing),
        year_end_accruals=each_force("year_end_accruals", lambda v, k: r.integer(v, k)),
        small_team_accounts=each_force("small_team_accounts", small_teams),
        income=each_force("income", income), role_accounts=role_accounts,
        balance_sheet=each_force("balance_sheet", lambda v, k: {
            kind: r.code(a, f"{k}.{kind}") for kind, a in r.mapping(v, k, _BALANCE_SHEET_KINDS).items()}),
        pay_group_roles=pay_group_roles, nonpay_mixes=nonpay_mixes, objectives=objectives)


_TOP_KEYS = ("forces", "baseline_fy", "last_story_fy", "nre_baseline", "pay_share", "lines_per_year", "savings",
             "local_index", "programme", "new_codes", "new_cost_centre_names", "partner_flows", "partner_cells",
             "capital_financing", "year_end_accruals", "income", "role_accounts", "small_team_accounts",
             "balance_sheet", "pay_group_roles", "nonpay_mixes", "objectives")
_PARTNER_KEYS = ("brunel_contribution", "brunel_growth_permille", "dog_training_recharge", "dog_growth_permille",
                 "mismatch_fy")
_CAPITAL_FINANCING_ROLES = ("interest", "mrp", "rcco")
_BALANCE_SHEET_KINDS = ("bank", "debtors", "creditors", "accruals", "payroll", "partner", "reserves")

#: the package's scenario, checked once on import
SCENARIO = load_scenario()
