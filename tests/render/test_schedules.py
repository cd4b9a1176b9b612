"""Deforum schedule parsing and evaluation against values computed by hand."""

from __future__ import annotations

import math

import pytest

from mage_studio.render.errors import ScheduleError
from mage_studio.render.expressions import ExpressionError, compile_expression
from mage_studio.render.schedules import (
    evaluate_schedule,
    parse_schedule,
    resolve_frame_key,
)


def test_default_zoom_schedule() -> None:
    values = evaluate_schedule("0:(1.0025+0.002*sin(1.25*3.14*t/30))", 25, field="zoom")

    assert values[0] == pytest.approx(1.0025)
    # 1.25 * 3.14 * 12 / 30 = 1.57, sin(1.57) = 0.99999968
    assert values[12] == pytest.approx(1.0025 + 0.002 * 0.99999968, abs=1e-9)
    # 1.25 * 3.14 * 24 / 30 = 3.14, sin(3.14) = 0.00159265
    assert values[24] == pytest.approx(1.0025 + 0.002 * 0.00159265, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0:(0)", 0.0), ("0: (0.065)", 0.065), ("0: (0.65)", 0.65), ("0: (7)", 7.0)],
)
def test_default_constant_schedules(text: str, expected: float) -> None:
    values = evaluate_schedule(text, 10)

    assert values == [expected] * 10


def test_translation_keys_interpolate_linearly() -> None:
    values = evaluate_schedule("0:(0), 30:(15), 210:(15), 300:(0)", 301)

    assert values[0] == 0
    assert values[15] == pytest.approx(7.5)
    assert values[30] == 15
    assert values[120] == 15
    assert values[255] == pytest.approx(7.5)
    assert values[300] == 0


def test_key_past_last_frame_is_ignored() -> None:
    # Deforum ignores the 300 key of a 300-frame clip (frames 0-299): the value holds.
    values = evaluate_schedule("0:(0), 30:(15), 210:(15), 300:(0)", 300)

    assert values[299] == 15


def test_strength_two_keys() -> None:
    values = evaluate_schedule("0: (0.65), 25: (0.55)", 40)

    assert values[10] == pytest.approx(0.61)
    assert values[25] == pytest.approx(0.55)
    assert values[39] == pytest.approx(0.55)


def test_number_interpolates_towards_expression_key() -> None:
    values = evaluate_schedule("0:(1.0), 30:(1.02+0.002*sin(t))", 40)

    at_30 = 1.02 + 0.002 * math.sin(30)
    assert values[15] == pytest.approx(1.0 + (at_30 - 1.0) / 2)
    assert values[30] == pytest.approx(at_30)
    assert values[35] == pytest.approx(1.02 + 0.002 * math.sin(35))


def test_expression_holds_until_next_key() -> None:
    values = evaluate_schedule("0:(t), 5:(0)", 8)

    assert values == [0, 1, 2, 3, 4, 0, 0, 0]


def test_max_f_keys_and_values() -> None:
    values = evaluate_schedule("0:(0), max_f:(10)", 11)
    shifted = evaluate_schedule("0:(1), max_f-1:(0)", 6)
    relative = evaluate_schedule("0:(max_f*2)", 3)

    assert values[5] == pytest.approx(5.0)
    assert shifted == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0, 0.0])
    assert relative == [4.0, 4.0, 4.0]


def test_quoted_expression_keys_with_seed() -> None:
    values = evaluate_schedule(
        '0:(s), 1:(-1), "max_f-2":(-1), "max_f-1":(s)', 10, seed=5
    )

    assert values == [5, -1, -1, -1, -1, -1, -1, -1, 5, 5]


def test_keys_out_of_order() -> None:
    assert evaluate_schedule("30:(3), 0:(0)", 31) == evaluate_schedule(
        "0:(0), 30:(3)", 31
    )


def test_first_key_after_zero_holds_backwards() -> None:
    values = evaluate_schedule("10:(2), 20:(4)", 25)

    assert values[0] == 2
    assert values[15] == pytest.approx(3.0)
    assert values[24] == 4


def test_all_keys_outside_clip_hold_earliest() -> None:
    assert evaluate_schedule("50:(3), 80:(4)", 5) == [3, 3, 3, 3, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.02", 1.02), ("(1.02)", 1.02), (0.5, 0.5), (2, 2.0), ("t*2", None)],
)
def test_single_value_without_key(text: str | float, expected: float | None) -> None:
    values = evaluate_schedule(text, 3)

    assert values == ([expected] * 3 if expected is not None else [0.0, 2.0, 4.0])


def test_commas_inside_functions() -> None:
    assert evaluate_schedule("0:(max(t, 2)), 3:(pow(2, 3))", 4) == [2, 2, 2, 8]


def test_cos_power_noise_schedule() -> None:
    values = evaluate_schedule("0:(-0.06*(cos(3.141*t/15)**100)+0.06)", 16)

    assert values[0] == pytest.approx(0.0)
    assert values[15] == pytest.approx(0.06 - 0.06 * math.cos(3.141) ** 100)
    assert values[7] == pytest.approx(0.06, abs=1e-6)


def test_crlf_and_spaces_tolerated() -> None:
    assert evaluate_schedule("0: (1),\r\n 2: (3)\r\n", 3) == [1, 2, 3]


def test_constant_detection() -> None:
    assert parse_schedule("0: (0.65)", "strength").constant() == 0.65
    assert parse_schedule("0:(t)", "angle").constant() is None
    assert parse_schedule("0:(1), 5:(2)", "zoom").constant() is None


def test_resolve_frame_key() -> None:
    assert resolve_frame_key("max_f/4-5", 101, 0, "prompts") == 20
    assert resolve_frame_key('"30"', 101, 0, "prompts") == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("0:()", "empty value"),
        ("0:(1), 10", "expected 'frame:"),
        ("abc:(1)", "unknown name 'abc'"),
        ("0:(__import__('os').system('true'))", "only plain calls"),
        ("0:(__import__('os'))", "unknown function '__import__'"),
        ("0:(open('x'))", "unknown function 'open'"),
        ("0:(t.real)", "Attribute expressions are not allowed"),
        ("0:(lambda: 1)", "Lambda expressions are not allowed"),
        ("0:([1, 2])", "not allowed"),
        ("0:('text')", "only numbers"),
        ("0:(sin(t, 2))", "takes 1 arguments"),
        ("0:(max(t=1))", "only plain calls"),
        ("0:(1 +)", "invalid syntax"),
        ("0:(t if t else 1)", "IfExp expressions are not allowed"),
        ("0:(" + "+".join(["1"] * 400) + ")", "more than"),
        ("0:(" + "1" * 1200 + ")", "longer than"),
    ],
)
def test_invalid_schedules_rejected(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message) as raised:
        evaluate_schedule(text, 10, field="zoom")

    assert raised.value.field == "zoom"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:(1/0)", "division by zero"),
        ("0:(1/(t-3))", "division by zero .* at frame 3"),
        ("0:(t % 0)", "modulo by zero"),
        ("0:(sqrt(t-5))", "math error .* at frame 0"),
        ("0:(log(0))", "math error"),
        ("0:(2**100000)", "exponent"),
        ("0:(9**9**9)", "exponent"),
        ("0:(exp(1000))", "math error"),
        ("0:(1e308*10)", "not a finite number"),
    ],
)
def test_evaluation_errors_name_frame(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        evaluate_schedule(text, 10, field="angle")


def test_expression_functions_and_comparisons() -> None:
    expression = compile_expression(
        "where(t > 2, 1, 0) + (t >= 1) * 10 + floor(2.7) + round(2.5)"
    )

    assert expression(t=0) == 5.0
    assert expression(t=1) == 15.0
    assert expression(t=3) == 16.0


def test_expression_constants_and_seed() -> None:
    assert compile_expression("pi + e")() == pytest.approx(math.pi + math.e)
    assert compile_expression("s % 7")(s=30) == 2.0
    assert compile_expression("t & (max_f | 0)")(t=1, max_f=0) == 0.0


def test_frame_keys_cannot_use_t() -> None:
    with pytest.raises(ExpressionError, match="unknown name 't'"):
        compile_expression("t+1", ("max_f", "s"))
