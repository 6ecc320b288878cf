from decimal import Decimal

import pytest

from alliance_finance.core.money import decimal_to_pence, format_gbp, format_pence, parse_amount_to_pence, pence_to_decimal


@pytest.mark.parametrize("text,pence", [("0.00", 0), ("12,345.67", 1234567), ("1234567.89", 123456789),
                                        ("0.10", 10), ("1,000,000.01", 100000001)])
def test_parse_amount(text, pence):
    assert parse_amount_to_pence(text) == pence


@pytest.mark.parametrize("text", ["12.3", "1,23.45", "12.345", "abc", "", "1e3", "12,34.00", "0.1"])
def test_parse_amount_rejects(text):
    with pytest.raises(ValueError):
        parse_amount_to_pence(text)


def test_round_trips_exactly():
    for pence in (0, 1, -1, 99, -100, 123456789012345):
        assert decimal_to_pence(pence_to_decimal(pence)) == pence
        assert Decimal(format_pence(pence)) == pence_to_decimal(pence)


def test_format_gbp():
    assert format_gbp(123456789) == "£1,234,568"
    assert format_gbp(-123456749) == "-£1,234,567"
    assert format_gbp(123456789, pence_shown=True) == "£1,234,567.89"
