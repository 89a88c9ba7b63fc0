"""`llm-budget dtype`: exact bit encodings, format limits, quantization, and the CLI.

Oracles independent of llm_budget/dtypes/: the lecture's bit strings, published constants
written out here, `struct` (binary32), numpy (binary16) and PyTorch (bfloat16, FP8), and
hand-worked INT8/INT4/NF4 cases.
"""

from __future__ import annotations

import json
import math
import struct
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.dtypes import (
    NF4_BLOCK,
    NF4_CODES,
    FloatCode,
    decode,
    dtype_table,
    encode_absmax,
    encode_float,
    encode_int,
    encode_nf4,
    encode_number,
    exact_decimal,
    layout,
    max_finite,
    nf4_index,
    parse_absmax,
    parse_number,
    round_float,
    special,
)
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import Precision, float_limits
from llm_budget.refs import describe

P = Precision
F = Fraction
PI = "3.141592"


def enc(p: Precision, x, **kw):
    return encode_float(p, F(x), **kw)


def by_label(result, label):
    return next(e for e in result.encodings if e.label == label)


# -- the lecture's slides ---------------------------------------------------------------------------


def test_lecture_fp32_fp16_bf16_bits_and_stored_values():
    r = encode_number(PI)
    fp32, fp16, bf16 = by_label(r, "FP32"), by_label(r, "FP16"), by_label(r, "BF16")
    assert fp32.bits_grouped == "0 10000000 10010010000111111011000"
    assert fp32.stored_value == "3.1415920257568359375"
    assert fp16.bits_grouped == "0 10000 1001001000"
    assert fp16.stored_value == "3.140625"
    assert bf16.bits_grouped == "0 10000000 1001001"
    assert bf16.stored_value == "3.140625"
    assert (fp32.sign, fp32.exponent, fp32.fraction) == ("0", "10000000", "10010010000111111011000")
    assert fp32.bits == "01000000010010010000111111011000"
    # the stored value is the exact value of the bits
    (as_float,) = struct.unpack(">f", int(fp32.bits, 2).to_bytes(4, "big"))
    assert F(fp32.stored_fraction) == F(as_float) == F(1647099, 524288)
    assert F(fp32.abs_error) == F("3.1415920257568359375") - F(PI)
    assert fp32.relative_error == pytest.approx(float((F("3.1415920257568359375") - F(PI)) / F(PI)))
    assert F(fp16.abs_error) == F(PI) - F("3.140625")


def test_input_is_parsed_exactly_not_as_a_double():
    x, negative = parse_number(PI)
    assert x == F(3141592, 1_000_000) and not negative
    assert x != F(3.141592)  # the nearest double is not 3.141592
    r = encode_number(PI)
    assert r.value == PI and r.value_fraction == "392699/125000"


# -- limits against published constants -----------------------------------------------------------

PUBLISHED = {
    # max finite, min normal, min subnormal, epsilon
    P.fp32: (3.4028234663852886e38, 2.0**-126, 2.0**-149, 2.0**-23),
    P.fp16: (65504.0, 2.0**-14, 2.0**-24, 2.0**-10),
    P.bf16: (3.3895313892515355e38, 2.0**-126, 2.0**-133, 2.0**-7),
    P.fp8_e4m3: (448.0, 2.0**-6, 2.0**-9, 2.0**-3),
    P.fp8_e5m2: (57344.0, 2.0**-14, 2.0**-16, 2.0**-2),
}


@pytest.mark.parametrize("p", list(PUBLISHED))
def test_float_limits_match_published_constants(p):
    mx, mn, sub, eps = PUBLISHED[p]
    assert max_finite(p) == F(mx)
    lim = float_limits(p)
    assert (lim["max"], lim["min_normal"], lim["min_subnormal"], lim["epsilon"]) == (mx, mn, sub, eps)
    info = next(f for f in dtype_table().formats if f.precision == p.value)
    assert (info.max, info.min_normal, info.min_subnormal, info.epsilon) == (mx, mn, sub, eps)
    assert F(info.max_exact.replace("e+", "e")) == F(mx)
    # the codes that hold them
    lay = layout(p)
    assert decode(p, FloatCode(0, 1, 0)) == F(mn)
    assert decode(p, FloatCode(0, 0, 1)) == F(sub)
    one = round_float(p, F(1))
    assert decode(p, one._replace(fraction=1)) - 1 == F(eps)
    assert one == FloatCode(0, lay.bias, 0)


def test_published_exact_maxima():
    assert max_finite(P.fp32) == 340282346638528859811704183484516925440
    assert max_finite(P.fp16) == 65504
    assert max_finite(P.fp8_e4m3) == 448
    assert max_finite(P.fp8_e5m2) == 57344
    assert max_finite(P.bf16) == (2 - F(1, 2**7)) * 2**127


def test_e4m3_has_no_inf_and_one_nan_per_sign():
    assert special(P.fp8_e4m3, FloatCode(0, 15, 7)) == "NaN"
    assert special(P.fp8_e4m3, FloatCode(1, 15, 7)) == "NaN"
    assert decode(P.fp8_e4m3, FloatCode(0, 15, 6)) == 448
    assert decode(P.fp8_e4m3, FloatCode(0, 15, 0)) == 256  # the top binade is normal
    assert special(P.fp8_e5m2, FloatCode(0, 31, 0)) == "inf"
    assert special(P.fp8_e5m2, FloatCode(1, 31, 0)) == "-inf"
    assert special(P.fp8_e5m2, FloatCode(0, 31, 1)) == "NaN"


# -- rounding: to nearest, ties to even ---------------------------------------------------------------


def test_fp16_ties_to_even():
    a = enc(P.fp16, 1 + F(1, 2**11))  # halfway between 1 and 1 + 2^-10: the even one is 1
    assert a.bits_grouped == "0 01111 0000000000" and a.stored_value == "1"
    b = enc(P.fp16, 1 + 3 * F(1, 2**11))  # halfway between 1 + 2^-10 and 1 + 2^-9: even is 1 + 2^-9
    assert F(b.stored_fraction) == 1 + F(1, 2**9)
    assert b.bits_grouped == "0 01111 0000000010"
    c = enc(P.fp16, 1 + F(1, 2**11) + F(1, 2**40))  # just above the tie: up
    assert F(c.stored_fraction) == 1 + F(1, 2**10)


def test_bf16_and_fp8_ties_to_even():
    assert enc(P.bf16, 1 + F(1, 2**8)).stored_value == "1"
    assert F(enc(P.bf16, 1 + F(3, 2**8)).stored_fraction) == 1 + F(1, 2**6)
    assert enc(P.fp8_e4m3, F(17, 16)).stored_value == "1"  # 1 + 2^-4: halfway to 1.125
    assert enc(P.fp8_e4m3, F(19, 16)).stored_value == "1.25"
    assert enc(P.fp8_e5m2, F(9, 8)).stored_value == "1"
    assert enc(P.fp8_e5m2, F(11, 8)).stored_value == "1.5"


def test_rounding_carries_into_the_next_binade():
    e = enc(P.fp16, 2 - F(1, 2**12))  # rounds up to 2
    assert e.stored_value == "2" and e.bits_grouped == "0 10000 0000000000"


# -- subnormals and underflow -----------------------------------------------------------------------


def test_fp16_subnormals():
    e = enc(P.fp16, F(1, 2**24))
    assert e.bits_grouped == "0 00000 0000000001" and e.status == "subnormal"
    assert e.stored_value == "5.9604644775390625e-8"
    assert enc(P.fp16, F(1, 2**25)).stored_value == "0"  # tie between 0 and 2^-24: even is 0
    assert enc(P.fp16, F(1, 2**25)).status == "underflow"
    assert enc(P.fp16, F(3, 2**26)).bits_grouped == "0 00000 0000000001"  # above the tie: up
    assert enc(P.fp16, F(3, 2**25)).bits_grouped == "0 00000 0000000010"  # 1.5 · 2^-24: tie, even is 2
    largest_sub = F(1023, 2**24)
    assert enc(P.fp16, largest_sub).bits_grouped == "0 00000 1111111111"
    # halfway between the largest subnormal and 2^-14 goes up to the smallest normal (even)
    assert enc(P.fp16, largest_sub + F(1, 2**25)).bits_grouped == "0 00001 0000000000"


def test_fp32_smallest_subnormal_and_negative_underflow():
    e = enc(P.fp32, F(1, 2**149))
    assert e.bits_grouped == "0 00000000 00000000000000000000001"
    assert F(e.stored_fraction) == F(1, 2**149)
    u = encode_float(P.fp32, F(-1, 10**50))
    assert u.bits_grouped == "1 00000000 00000000000000000000000"  # -0: the sign survives
    assert u.stored_value == "-0" and u.status == "underflow"


# -- overflow -------------------------------------------------------------------------------------------


def test_overflow_ieee_formats_to_inf():
    assert enc(P.fp16, 65519).stored_value == "65504"  # below max + ½ulp (65520)
    big = enc(P.fp16, 65520)  # the tie: "even" is 2^16, which overflows
    assert big.stored_value == "inf" and big.bits_grouped == "0 11111 0000000000" and big.status == "overflow"
    assert big.abs_error is None and big.relative_error is None and big.stored_fraction is None
    assert enc(P.fp16, -70000).stored_value == "-inf"
    assert enc(P.fp32, F(10) ** 39).bits_grouped == "0 11111111 00000000000000000000000"
    assert enc(P.bf16, F(34, 10) * F(10) ** 38).stored_value == "inf"
    assert enc(P.fp8_e5m2, 61439).stored_value == "57344"
    assert enc(P.fp8_e5m2, 61440).stored_value == "inf"


def test_e4m3_overflow_is_nan_or_saturates():
    assert enc(P.fp8_e4m3, 464).stored_value == "448"  # tie: the even neighbour is 448
    nan = enc(P.fp8_e4m3, 465)
    assert nan.stored_value == "NaN" and nan.bits_grouped == "0 1111 111" and nan.status == "overflow"
    assert enc(P.fp8_e4m3, -1000).bits_grouped == "1 1111 111"
    sat = enc(P.fp8_e4m3, -1000, saturate=True)
    assert sat.stored_value == "-448" and sat.bits_grouped == "1 1111 110" and sat.status == "saturated"
    assert enc(P.fp8_e5m2, 10**6, saturate=True).stored_value == "57344"
    r = encode_number("1e6", saturate=True)
    assert by_label(r, "FP16").stored_value == "inf"  # --saturate is for FP8 only
    assert by_label(r, "FP8-E4M3").stored_value == "448"


# -- negative numbers and zero ----------------------------------------------------------------------


def test_negative_numbers_flip_only_the_sign_bit():
    pos, neg = encode_number(PI), encode_number("-" + PI)
    for label in ("FP32", "FP16", "BF16", "FP8-E4M3", "FP8-E5M2"):
        a, b = by_label(pos, label), by_label(neg, label)
        assert b.sign == "1" and a.sign == "0"
        assert (a.exponent, a.fraction) == (b.exponent, b.fraction)
        assert b.stored_value == "-" + a.stored_value
    assert by_label(neg, "FP32").bits_grouped == "1 10000000 10010010000111111011000"


def test_zero_and_negative_zero():
    z = encode_number("0")
    assert all(e.stored_value == "0" and e.relative_error == 0.0 for e in z.encodings)
    assert by_label(z, "FP32").bits == "0" * 32
    assert by_label(z, "NF4").bits == "0111"  # level 7 is 0.0
    nz = encode_number("-0")
    assert by_label(nz, "FP16").bits_grouped == "1 00000 0000000000"
    assert by_label(nz, "FP16").stored_value == "-0"
    assert by_label(nz, "INT8").bits == "00000000"


# -- independent oracles: struct, numpy, PyTorch ----------------------------------------------------

# Doubles from random bit patterns cover every binade (subnormal to 1e308) evenly.
_any_double = (
    st.integers(0, 2**64 - 1).map(lambda b: struct.unpack(">d", b.to_bytes(8, "big"))[0]).filter(math.isfinite)
)
doubles = st.one_of(st.floats(allow_nan=False, allow_infinity=False), _any_double)


def _neg(x: float) -> bool:
    return math.copysign(1.0, x) < 0


def lanes(full: int) -> list:
    """Random examples per oracle test: a tenth in the fast lane (the pinned @examples always run),
    all of them in the slow lane (`pytest -m slow`)."""
    return [pytest.param(full // 10, id="fast"), pytest.param(full, id="full", marks=pytest.mark.slow)]


@pytest.mark.parametrize("n", lanes(3000))
def test_fp32_matches_struct(n):
    @settings(max_examples=n, deadline=None)
    @given(doubles)
    @example(3.4028235677973366e38)  # max + ½ulp: overflows
    @example(3.4028235677973362e38)  # just below: max
    @example(1.401298464324817e-45 / 2)  # tie with 0
    @example(-0.0)
    def check(x):
        e = encode_float(P.fp32, F(x), negative=_neg(x))
        try:
            packed = struct.pack(">f", x)
        except OverflowError:
            assert e.stored_value in ("inf", "-inf")
            return
        assert e.bits == format(int.from_bytes(packed, "big"), "032b")
        assert F(e.stored_fraction) == F(struct.unpack(">f", packed)[0])

    check()


@pytest.mark.parametrize("n", lanes(3000))
def test_fp16_matches_numpy(n):
    np = pytest.importorskip("numpy")
    import warnings

    @settings(max_examples=n, deadline=None)
    @given(st.one_of(doubles, st.floats(min_value=-70000, max_value=70000), st.floats(min_value=-1e-4, max_value=1e-4)))
    @example(65520.0)
    @example(65519.99999999999)
    @example(2.0**-25)
    @example(1 + 2.0**-11)
    def check(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on overflow
            h = np.array([x], dtype=np.float64).astype(np.float16)
        bits = format(int(h.view(np.uint16)[0]), "016b")
        e = encode_float(P.fp16, F(x), negative=_neg(x))
        assert e.bits == bits

    check()


floats32 = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1000, max_value=1000, width=32),
    st.floats(min_value=-0.015625, max_value=0.015625, width=32),
    st.floats(min_value=-70000, max_value=70000, width=32),
)


@pytest.mark.parametrize("n", lanes(2000))
@pytest.mark.parametrize(
    "p, torch_dtype", [(P.bf16, "bfloat16"), (P.fp8_e4m3, "float8_e4m3fn"), (P.fp8_e5m2, "float8_e5m2")]
)
def test_bf16_and_fp8_match_torch(p, torch_dtype, n):
    """PyTorch rounds float32 to these formats to nearest, ties to even, so on float32 inputs it must
    agree with rounding the exact value once. On overflow its CPU cast saturates E4M3 (our
    saturate=True; the OCP default, NaN, is checked in test_e4m3_overflow_is_nan_or_saturates) and
    sends BF16 and E5M2 to ±inf (our default)."""
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, torch_dtype, None)
    if dtype is None:
        pytest.skip(f"torch has no {torch_dtype}")
    bits = FORMATS_BITS[p]
    view = torch.int16 if bits == 16 else torch.uint8

    @settings(max_examples=n, deadline=None)
    @given(floats32)
    @example(464.0)
    @example(465.0)
    @example(61440.0)
    @example(-(2.0**-10))
    def check(x):
        t = torch.tensor([x], dtype=torch.float32).to(dtype)
        expected = format(int(t.view(view).item()) & (2**bits - 1), f"0{bits}b")
        ours = encode_float(p, F(x), negative=_neg(x))
        if ours.status == "overflow" and p == P.fp8_e4m3:
            ours = encode_float(p, F(x), negative=_neg(x), saturate=True)
            if expected[1:] == "1111111":  # a torch build that follows the spec's NaN instead
                assert ours.bits[0] == expected[0]
                return
        assert ours.bits == expected, x

    check()


FORMATS_BITS = {P.bf16: 16, P.fp8_e4m3: 8, P.fp8_e5m2: 8}


@pytest.mark.parametrize(
    "p",
    [
        pytest.param(P.fp16, marks=pytest.mark.slow),
        pytest.param(P.bf16, marks=pytest.mark.slow),
        P.fp8_e4m3,
        P.fp8_e5m2,
    ],
)
def test_every_finite_code_round_trips(p):
    """Every code of the format (65,536 for the 16-bit ones: slow lane; the FP8 ones run always)."""
    lay = layout(p)
    for e in range(2**lay.exponent_bits):
        for f in range(2**lay.fraction_bits):
            for s in (0, 1):
                code = FloatCode(s, e, f)
                value = decode(p, code)
                if value is None:
                    continue
                assert round_float(p, value, negative=bool(s)) == code


# -- integers -------------------------------------------------------------------------------------------


def test_int8_plain_by_hand():
    e = encode_int(P.int8, F(PI))
    assert (e.code, e.bits, e.stored_value, e.status) == (3, "00000011", "3", "rounded")
    assert F(e.abs_error) == F("0.141592")
    assert encode_int(P.int8, F(-1)).bits == "11111111"
    assert encode_int(P.int8, F("2.5")).code == 2  # ties to even
    assert encode_int(P.int8, F("3.5")).code == 4
    assert encode_int(P.int8, F("-3.5")).code == -4
    hi = encode_int(P.int8, F(200))
    assert (hi.code, hi.bits, hi.status) == (127, "01111111", "clamped")
    lo = encode_int(P.int8, F(-200))
    assert (lo.code, lo.bits, lo.status) == (-128, "10000000", "clamped")


def test_int8_absmax_by_hand():
    # absmax = |x| (the default): q = 127 and the value comes back exactly
    e = encode_absmax(P.int8, F(PI), F(PI))
    assert (e.code, e.bits, e.stored_value, e.status) == (127, "01111111", PI, "exact")
    assert F(e.scale_fraction) == F(127) / F(PI)
    # a tensor whose largest magnitude is 10: scale 12.7, 3.141592 · 12.7 = 39.8982... -> 40
    e = encode_absmax(P.int8, F(PI), F(10))
    assert e.scale == 12.7 and e.scale_fraction == "127/10"
    assert (e.code, e.bits) == (40, "00101000")
    assert F(e.stored_fraction) == F(400, 127)
    assert e.stored_value.startswith("3.1496062992125984251968503937") and e.stored_value.endswith("…")
    assert F(e.abs_error.rstrip("…")) == pytest.approx(float(F(400, 127) - F(PI)), rel=1e-30)
    neg = encode_absmax(P.int8, F("-2.5"), F(10))  # -31.75 -> -32
    assert (neg.code, neg.bits, F(neg.stored_fraction)) == (-32, "11100000", F(-320, 127))
    clip = encode_absmax(P.int8, F(20), F(10))
    assert (clip.code, clip.status) == (127, "clamped")
    assert encode_absmax(P.int8, F(-20), F(10)).code == -127  # symmetric: never -128


def test_int4_plain_and_absmax_by_hand():
    e = encode_int(P.int4, F(PI))
    assert (e.code, e.bits) == (3, "0011")
    assert (encode_int(P.int4, F(9)).code, encode_int(P.int4, F(-9)).bits) == (7, "1000")
    a = encode_absmax(P.int4, F(PI), F(10))  # scale 0.7: 2.199... -> 2
    assert (a.code, a.bits, a.stored_fraction) == (2, "0010", "20/7")
    full = encode_absmax(P.int4, F(-7), F(7))
    assert (full.code, full.bits, full.stored_value) == (-7, "1001", "-7")


# -- NF4 ------------------------------------------------------------------------------------------------

NF4_PUBLISHED = [
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
]  # QLoRA (Dettmers et al. 2023) / bitsandbytes' NF4 table


def test_nf4_levels_are_the_published_ones():
    assert list(NF4_CODES) == NF4_PUBLISHED and NF4_BLOCK == 64
    assert all(a < b for a, b in zip(NF4_CODES, NF4_CODES[1:]))
    for c in NF4_CODES:  # each is exactly a float32 value
        assert struct.unpack(">f", struct.pack(">f", c))[0] == c
    info = next(f for f in dtype_table().formats if f.precision == "nf4")
    assert info.codes == NF4_PUBLISHED and info.block_size == 64 and info.bytes == 0.5


def test_nf4_by_hand():
    e = encode_nf4(F(PI), F(10))  # 0.3141592: between 0.2461 and 0.3379, nearer 0.3379
    assert (e.code, e.bits) == (11, "1011")
    assert F(e.stored_fraction) == F(0.33791524171829224) * 10
    assert e.stored_value == "3.37915241718292236328125"
    top = encode_nf4(F(PI), F(PI))
    assert (top.code, top.stored_value, top.status) == (15, PI, "exact")
    assert encode_nf4(F(-5), F(10)).code == 2  # -0.5 is nearest -0.5250730514526367
    assert encode_nf4(F(0), F(10)).bits == "0111"
    clipped = encode_nf4(F(20), F(10))
    assert (clipped.code, clipped.stored_value, clipped.status) == (15, "10", "clamped")


def test_nf4_midpoint_goes_to_the_lower_level():
    lo, hi = F(NF4_CODES[8]), F(NF4_CODES[9])
    mid = (lo + hi) / 2
    assert nf4_index(mid) == 8
    assert nf4_index(mid + F(1, 2**60)) == 9


# -- exact decimals and parsing -----------------------------------------------------------------------


def test_exact_decimal():
    assert exact_decimal(F(1647099, 524288)) == "3.1415920257568359375"
    assert exact_decimal(F(-3, 8)) == "-0.375"
    assert exact_decimal(F(65504)) == "65504"
    assert exact_decimal(F(1, 2**24)) == "5.9604644775390625e-8"
    assert exact_decimal(F(1, 10**7)) == "1e-7"
    assert exact_decimal(F(123, 10**8)) == "0.00000123"
    assert exact_decimal(F(1, 10**6)) == "0.000001"
    assert exact_decimal(max_finite(P.fp32)) == "3.4028234663852885981170418348451692544e+38"
    assert exact_decimal(F(1, 3), digits=5) == "0.33333…"
    assert exact_decimal(F(2, 3), digits=5) == "0.66667…"
    assert exact_decimal(F(1, 2**149)).startswith(
        "1.40129846432481707092372958328991613128026194187651577175706828388979108268586060148663818836212158203125e-45"
    )


@pytest.mark.parametrize(
    "text, value, negative",
    [
        ("3.141592", F(3141592, 10**6), False),
        ("-1e-8", F(-1, 10**8), True),
        ("65,504", F(65504), False),
        ("1_000", F(1000), False),
        ("1/3", F(1, 3), False),
        ("-0", F(0), True),
        ("+2.5E3", F(2500), False),
    ],
)
def test_parse_number(text, value, negative):
    assert parse_number(text) == (value, negative)


@pytest.mark.parametrize("text", ["abc", "inf", "-Infinity", "nan", "", "1/0", "0x10", "1e1001", "1e-1001", "3,14"])
def test_parse_number_rejects(text):
    with pytest.raises(LLMBudgetError):
        parse_number(text)


@pytest.mark.parametrize("text", ["0", "-1", "-0.5", "nan"])
def test_absmax_must_be_positive(text):
    with pytest.raises(LLMBudgetError):
        parse_absmax(text)


# -- the range table -----------------------------------------------------------------------------------


def test_range_table_covers_every_precision():
    t = dtype_table()
    assert [f.precision for f in t.formats] == [p.value for p in Precision]
    rows = {f.precision: f for f in t.formats}
    assert [rows[k].bytes for k in ("fp32", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2", "int8", "int4", "nf4")] == [
        4,
        2,
        2,
        1,
        1,
        1,
        0.5,
        0.5,
    ]
    assert (rows["fp16"].sign_bits, rows["fp16"].exponent_bits, rows["fp16"].fraction_bits) == (1, 5, 10)
    assert (rows["bf16"].exponent_bits, rows["bf16"].fraction_bits, rows["bf16"].exponent_bias) == (8, 7, 127)
    assert (rows["int8"].int_min, rows["int8"].int_max) == (-128, 127)
    assert (rows["int4"].int_min, rows["int4"].int_max) == (-8, 7)
    assert rows["fp16"].max_formula == "(2 - 2^-10) × 2^15"
    assert rows["fp8-e4m3"].max_formula == "(2 - 2^-2) × 2^8"


def test_every_source_is_registered():
    for f in dtype_table().formats:
        assert describe(f.source)
    for e in encode_number(PI).encodings:
        assert describe(e.source)


# -- CLI ------------------------------------------------------------------------------------------------

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "110"})


def test_cli_number_prints_the_lecture_bits():
    r = run("dtype", PI)
    assert r.exit_code == 0, r.output
    for s in [
        "0 10000000 10010010000111111011000",
        "3.1415920257568359375",
        "0 10000 1001001000",
        "0 10000000 1001001",
        "3.140625",
        "00000011",
        "INT8 absmax",
    ]:
        assert s in r.stdout, s


def test_cli_range_table():
    r = run("dtype")
    assert r.exit_code == 0, r.output
    for s in ["FP32", "FP8-E4M3", "NF4", "65,504", "57,344", "448", "2^-24", "-0.6961928009986877", "min -128"]:
        assert s in r.stdout, s


def test_cli_json_schema():
    r = run("dtype", PI, "--absmax", "10", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"input", "value", "value_fraction", "absmax", "absmax_given", "saturate", "encodings"}
    assert data["absmax"] == "10" and data["absmax_given"] is True
    keys = {
        "precision",
        "scheme",
        "label",
        "bits",
        "bits_grouped",
        "sign",
        "exponent",
        "fraction",
        "code",
        "stored_value",
        "stored_fraction",
        "abs_error",
        "relative_error",
        "scale",
        "scale_fraction",
        "absmax",
        "status",
        "note",
        "source",
    }
    assert [e["label"] for e in data["encodings"]] == [
        "FP32",
        "FP16",
        "BF16",
        "FP8-E4M3",
        "FP8-E5M2",
        "INT8",
        "INT8 absmax",
        "INT4",
        "INT4 absmax",
        "NF4",
    ]
    for e in data["encodings"]:
        assert set(e) == keys
    int8 = data["encodings"][6]
    assert (int8["code"], int8["bits"], int8["scale"], int8["stored_fraction"]) == (40, "00101000", 12.7, "400/127")
    r = run("dtype", "--json")
    table = json.loads(r.stdout)
    assert [f["precision"] for f in table["formats"]] == [p.value for p in Precision]
    assert table["formats"][1]["max"] == 65504


def test_cli_negative_number_needs_no_double_dash():
    r = run("dtype", "-3.141592", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["encodings"][0]["bits_grouped"] == "1 10000000 10010010000111111011000"
    r = run("dtype", "--saturate", "--", "-70000")
    assert r.exit_code == 0, r.output
    assert "-448" in r.stdout and "-inf" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["dtype", "abc"], "'abc' is not a number"),
        (["dtype", "inf"], "is not finite"),
        (["dtype", "nan", "--json"], "is not finite"),
        (["dtype", "1", "--absmax", "0"], "--absmax must be positive"),
        (["dtype", "1", "--absmax", "-10"], "--absmax must be positive"),
        (["dtype", "1", "--absmax", "ten"], "--absmax 'ten' is not a number"),
        (["dtype", "--absmax", "10"], "apply to a number"),
        (["dtype", "1e1001"], "out of range"),
    ],
)
def test_cli_bad_input_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("n", lanes(1500))
def test_the_code_is_the_nearest_with_ties_to_even(n):
    """For any rational (not only doubles): no neighbouring code is nearer, and a tie picks the even code."""

    @settings(max_examples=n, deadline=None)
    @given(
        st.fractions(min_value=F(-70000), max_value=F(70000), max_denominator=10**12),
        st.sampled_from([P.fp16, P.bf16, P.fp8_e4m3, P.fp8_e5m2]),
    )
    def check(x, p):
        _nearest_with_ties_to_even(x, p)

    check()


def _nearest_with_ties_to_even(x, p):
    lay = layout(p)
    code = round_float(p, x)
    stored = decode(p, code)
    if stored is None:
        assert abs(x) > max_finite(p)
        return
    k = (code.exponent << lay.fraction_bits) | code.fraction  # magnitude order of the codes
    for j in (k - 1, k + 1):
        if j < 0:
            continue
        nb = decode(p, FloatCode(code.sign, j >> lay.fraction_bits, j & (2**lay.fraction_bits - 1)))
        if nb is None:
            continue
        assert abs(stored - x) <= abs(nb - x)
        if abs(stored - x) == abs(nb - x) and stored != x:
            assert k % 2 == 0


@pytest.mark.parametrize(
    "args",
    [
        ["1e-1000"],
        ["-1e1000"],
        ["1", "--absmax", "1e-1000"],
        ["1e-1000", "--absmax", "1e1000"],
        ["1/3"],
        ["123456789012345678901234567890"],
        ["-0"],
        ["65520"],
        ["1e-45"],
    ],
)
def test_cli_extreme_values_do_not_crash(args):
    r = run("dtype", *args)
    assert r.exit_code == 0, r.output
    r = run("dtype", *args, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data["encodings"]) == 10


def test_too_many_digits_is_an_error():
    with pytest.raises(LLMBudgetError, match="digits"):
        parse_number("1." + "3" * 2000)
    r = run("dtype", "1." + "3" * 2000)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1


def test_table_shortening_keeps_the_magnitude():
    from llm_budget.render.dtype import shorten

    assert shorten("3.1415920257568359375", 20) == "3.1415920257568359375"
    assert shorten("3.1415920257568359375", 5) == "3.1415…"
    assert shorten("123456.75", 3) == "123456…"  # integer digits are never dropped
    assert shorten("123450000000000000000", 5) == "123450000000000000000"
    assert shorten(exact_decimal(F(1, 2**149)), 5) == "1.4012…e-45"
    assert shorten("inf") == "inf"


# -- the precision table ----------------------------------------------------------------------------


def test_aliases_are_the_names_users_type():
    from llm_budget.hardware import ALIASES

    assert {
        "float32": P.fp32,
        "fp32": P.fp32,
        "float16": P.fp16,
        "half": P.fp16,
        "fp16": P.fp16,
        "bfloat16": P.bf16,
        "bf16": P.bf16,
        "fp8": P.fp8_e4m3,
        "e4m3": P.fp8_e4m3,
        "fp8-e4m3": P.fp8_e4m3,
        "fp8_e4m3": P.fp8_e4m3,
        "e5m2": P.fp8_e5m2,
        "fp8-e5m2": P.fp8_e5m2,
        "fp8_e5m2": P.fp8_e5m2,
        "int8": P.int8,
        "int4": P.int4,
        "nf4": P.nf4,
    } == ALIASES


@pytest.mark.parametrize("p", list(Precision))
def test_every_row_adds_up(p):
    """Sign + exponent + fraction bits fill the word (floats); sign + value bits (integers)."""
    from llm_budget.hardware import FORMATS, bytes_for

    f = FORMATS[p]
    assert describe(f.source)
    if p.is_float:
        assert 1 + f.exponent_bits + f.fraction_bits == f.bits
        assert float_limits(p)["max"] == float(max_finite(p))
    elif p.is_integer:
        assert 1 + f.fraction_bits == f.bits and float_limits(p) is None
    assert bytes_for(3, p) == -(-3 * f.bits // 8)  # ceil(3 · bits / 8)
