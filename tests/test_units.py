from decimal import Decimal

import pytest

from llm_budget.errors import LLMBudgetError
from llm_budget.units import GB, GiB, parse_count, parse_decimal


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7b", 7_000_000_000),
        ("7B", 7_000_000_000),
        ("1e9", 1_000_000_000),
        ("175_000_000_000", 175_000_000_000),
        ("1,000,000", 1_000_000),
        ("1.5b", 1_500_000_000),
        ("15t", 15_000_000_000_000),
        ("350M", 350_000_000),
        ("12,288", 12_288),
        (" 42 ", 42),
        ("2.5e3", 2_500),
        (4096, 4096),
    ],
)
def test_parse_count_accepts_what_people_type(text, expected):
    assert parse_count(text) == expected


def test_parse_decimal_is_exact_for_large_budgets():
    # 5.76e23 FLOPs (Chinchilla's Gopher budget) must not pick up binary-float error.
    assert parse_decimal("5.76e23") == Decimal(576) * 10**21


@pytest.mark.parametrize(
    "text", ["", "abc", "7x", "1,00", "1,0000", "--5", "-5", "0", "0b", "nan", "inf", "1e", "7 b b", "1__0", "10_"]
)
def test_parse_count_rejects_garbage_with_one_line(text):
    with pytest.raises(LLMBudgetError) as e:
        parse_count(text, what="--params")
    assert "\n" not in str(e.value)
    assert "--params" in str(e.value)


def test_parse_count_requires_whole_numbers():
    with pytest.raises(LLMBudgetError, match="whole number"):
        parse_count("1.5", what="--n-layers")


def test_units_are_what_they_say():
    assert GB == 1_000_000_000
    assert GiB == 1_073_741_824


@pytest.mark.parametrize("text", ["1e999999999", "1e400", "1e31", "2e30", "9" * 5000, "1e16p", "1" + "0" * 31])
def test_numbers_past_the_one_limit_are_refused_in_one_line(text):
    with pytest.raises(LLMBudgetError) as e:
        parse_decimal(text, what="--params")
    assert "\n" not in str(e.value) and "--params" in str(e.value)


def test_the_limit_itself_is_accepted():
    assert parse_count("1e30") == 10**30
    assert parse_count("1,000,000,000,000,000,000,000,000,000,000") == 10**30


def test_floats_past_the_limit_are_refused():
    with pytest.raises(LLMBudgetError):
        parse_decimal(1e300, what="--flops")
