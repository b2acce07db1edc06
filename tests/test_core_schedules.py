"""λ schedules (fillblank_core.schedules): values, shapes of the curves, keyframes, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fillblank_core.schedules import LambdaSchedule, parse_keyframes, sigma_progress

P = np.linspace(0.0, 1.0, 101)


# --- endpoints and curve shapes ----------------------------------------------------------------

@pytest.mark.parametrize("make", [LambdaSchedule.linear, LambdaSchedule.cosine, LambdaSchedule.exponential])
@pytest.mark.parametrize("start,end", [(1.0, 0.0), (0.8, 0.2), (0.1, 0.9), (0.0, 1.0)])
def test_start_end_endpoints(make, start, end):
    sched = make(start, end)
    assert sched(0.0) == pytest.approx(start, abs=1e-12)
    assert sched(1.0) == pytest.approx(end, abs=1e-12)
    arr = sched.array(7)
    assert arr.shape == (7,)
    assert arr[0] == pytest.approx(start, abs=1e-12) and arr[-1] == pytest.approx(end, abs=1e-12)


@pytest.mark.parametrize("make", [LambdaSchedule.linear, LambdaSchedule.cosine, LambdaSchedule.exponential])
def test_monotone_between_start_and_end(make):
    down = make(0.9, 0.1)(P)
    up = make(0.1, 0.9)(P)
    assert np.all(np.diff(down) < 0), "strictly decreasing from start to end"
    assert np.all(np.diff(up) > 0), "strictly increasing from start to end"
    for vals in (down, up):
        assert vals.min() >= 0.1 - 1e-12 and vals.max() <= 0.9 + 1e-12


def test_curve_formulas_at_midpoint():
    assert LambdaSchedule.linear(1.0, 0.0)(0.25) == pytest.approx(0.75)
    assert LambdaSchedule.cosine(1.0, 0.0)(0.5) == pytest.approx(0.5)
    # cosine is flat at both ends: slower than linear at the start, faster in the middle
    assert LambdaSchedule.cosine(1.0, 0.0)(0.1) > LambdaSchedule.linear(1.0, 0.0)(0.1)
    # exponential with rate k: (e^{-kp} - e^{-k}) / (1 - e^{-k}), fast change early
    k = 5.0
    want = (math.exp(-k * 0.2) - math.exp(-k)) / (1 - math.exp(-k))
    assert LambdaSchedule.exponential(1.0, 0.0, rate=k)(0.2) == pytest.approx(want)
    assert LambdaSchedule.exponential(1.0, 0.0, rate=k)(0.2) < LambdaSchedule.linear(1.0, 0.0)(0.2)


def test_constant_everywhere():
    vals = LambdaSchedule.constant(0.35)(P)
    assert np.all(vals == 0.35)
    assert np.all(LambdaSchedule.constant(0.35).array(9) == 0.35)


def test_step_cutoff():
    sched = LambdaSchedule.step(0.7, cutoff=0.5)
    assert sched(0.0) == 0.7 and sched(0.4999) == 0.7
    assert sched(0.5) == 0.0 and sched(1.0) == 0.0
    # 10 steps: progress i/9, so steps 0..4 (p <= 4/9) keep 0.7, steps 5..9 are 0
    assert sched.array(10).tolist() == [0.7] * 5 + [0.0] * 5
    assert LambdaSchedule.step(1.0, cutoff=0.0).array(4).tolist() == [0.0] * 4
    assert LambdaSchedule.step(1.0, cutoff=1.0)(0.999) == 1.0


def test_progress_is_clamped_and_array_input_works():
    sched = LambdaSchedule.linear(0.8, 0.2)
    assert sched(-3.0) == pytest.approx(0.8) and sched(7.0) == pytest.approx(0.2)
    out = sched(np.array([0.0, 0.5, 1.0]))
    assert isinstance(out, np.ndarray) and np.allclose(out, [0.8, 0.5, 0.2])
    assert isinstance(sched(0.5), float)


def test_array_first_last_and_length():
    sched = LambdaSchedule.linear(1.0, 0.0)
    arr = sched.array(5)
    assert arr.tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert sched.array(1).tolist() == [1.0]  # one step: progress 0
    with pytest.raises(ValueError, match="steps"):
        sched.array(0)


# --- keyframes ----------------------------------------------------------------------------------

def test_parse_keyframes():
    assert parse_keyframes("0:1.0, 0.4:0.6, 0.7:0") == [(0.0, 1.0), (0.4, 0.6), (0.7, 0.0)]
    assert parse_keyframes("  0 : 1 ;0.5:0.25, ") == [(0.0, 1.0), (0.5, 0.25)]
    assert parse_keyframes("0.3:0.5") == [(0.3, 0.5)]
    assert parse_keyframes("1e-1:5e-1") == [(0.1, 0.5)]


def test_keyframes_interpolate_and_hold():
    sched = LambdaSchedule.from_keyframes("0:1.0, 0.4:0.6, 0.7:0")
    assert sched(0.0) == pytest.approx(1.0)
    assert sched(0.2) == pytest.approx(0.8)      # halfway between (0, 1.0) and (0.4, 0.6)
    assert sched(0.55) == pytest.approx(0.3)     # halfway between (0.4, 0.6) and (0.7, 0)
    assert sched(0.9) == 0.0 and sched(1.0) == 0.0  # flat after the last keyframe
    inner = LambdaSchedule.from_keyframes("0.2:0.8, 0.6:0.2")
    assert inner(0.0) == pytest.approx(0.8) and inner(0.1) == pytest.approx(0.8)  # flat before
    assert inner(0.4) == pytest.approx(0.5)
    assert inner(1.0) == pytest.approx(0.2)
    arr = sched.array(11)  # p = 0, 0.1, ..., 1
    assert arr[0] == pytest.approx(1.0) and arr[-1] == 0.0
    assert arr[1] == pytest.approx(0.9) and arr[5] == pytest.approx(0.4)


@pytest.mark.parametrize("text,offending", [
    ("0:1, abc", "abc"),
    ("0:1:2", "0:1:2"),
    ("0.5:", "0.5:"),
    (":0.5", ":0.5"),
    ("0-1", "0-1"),
    ("0:1, nan:0", "nan:0"),
    ("1e:0", "1e:0"),
    ("0:1 0.5:0", "0:1 0.5:0"),
])
def test_malformed_keyframes_name_the_offending_text(text, offending):
    with pytest.raises(ValueError) as err:
        parse_keyframes(text)
    assert offending in str(err.value)
    with pytest.raises(ValueError) as err2:
        LambdaSchedule.from_keyframes(text)
    assert offending in str(err2.value)


@pytest.mark.parametrize("text", ["", "   ", ",,", " ; "])
def test_empty_keyframes(text):
    with pytest.raises(ValueError, match="keyframes"):
        parse_keyframes(text)


@pytest.mark.parametrize("text,later,earlier", [
    ("0:1, 0.5:0.5, 0.5:0", "0.5", "0.5"),
    ("0.6:1, 0.3:0", "0.3", "0.6"),
])
def test_keyframe_positions_must_increase(text, later, earlier):
    with pytest.raises(ValueError, match="increase") as err:
        parse_keyframes(text)
    msg = str(err.value)
    assert later in msg and earlier in msg


@pytest.mark.parametrize("text,offending", [
    ("0:1.5", "0:1.5"), ("0:-0.1", "0:-0.1"), ("1.2:0", "1.2:0"), ("-0.1:0.5", "-0.1:0.5"),
])
def test_keyframes_outside_unit_interval(text, offending):
    with pytest.raises(ValueError, match=r"\[0, 1\]") as err:
        parse_keyframes(text)
    assert offending in str(err.value)


# --- parameter validation ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["start", "end", "value", "cutoff"])
@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), float("inf")])
def test_parameters_outside_unit_interval(name, bad):
    kind = {"start": "linear", "end": "cosine", "value": "constant", "cutoff": "step"}[name]
    with pytest.raises(ValueError) as err:
        LambdaSchedule(kind=kind, **{name: bad})
    msg = str(err.value)
    assert name in msg and repr(bad) in msg and "between 0 and 1" in msg  # the widget's range (ranges)


def test_parameters_outside_unit_interval_through_constructors():
    with pytest.raises(ValueError, match="start.*1.2"):
        LambdaSchedule.linear(1.2, 0.0)
    with pytest.raises(ValueError, match="end.*-0.5"):
        LambdaSchedule.cosine(1.0, -0.5)
    with pytest.raises(ValueError, match="value.*2"):
        LambdaSchedule.constant(2)
    with pytest.raises(ValueError, match="cutoff.*1.01"):
        LambdaSchedule.step(1.0, cutoff=1.01)
    with pytest.raises(ValueError, match="start.*'abc'"):
        LambdaSchedule.linear("abc", 0.0)


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan")])
def test_rate_must_be_positive(rate):
    with pytest.raises(ValueError, match="rate"):
        LambdaSchedule.exponential(1.0, 0.0, rate=rate)


def test_unknown_kind():
    with pytest.raises(ValueError, match="'wobbly'"):
        LambdaSchedule(kind="wobbly")


def test_boundary_values_are_accepted():
    for v in (0.0, 1.0):
        assert LambdaSchedule.constant(v)(0.5) == v
    assert LambdaSchedule.from_keyframes("0:0, 1:1")(0.25) == pytest.approx(0.25)


# --- λ at any sigma ------------------------------------------------------------------------------

SIGMAS = [10.0, 8.0, 6.0, 4.0, 2.0, 0.0]  # 5 steps; step i starts at sigmas[i], progress i/4


def test_sigma_progress_on_entries():
    for i in range(5):
        assert sigma_progress(SIGMAS[i], SIGMAS) == pytest.approx(i / 4)


def test_sigma_progress_between_entries_is_interpolated():
    assert sigma_progress(7.0, SIGMAS) == pytest.approx(1.5 / 4)
    assert sigma_progress(9.5, SIGMAS) == pytest.approx(0.25 / 4)
    assert sigma_progress(3.0, SIGMAS) == pytest.approx(3.5 / 4)
    # outside the schedule: clamped
    assert sigma_progress(50.0, SIGMAS) == 0.0
    assert sigma_progress(1.0, SIGMAS) == 1.0 and sigma_progress(0.0, SIGMAS) == 1.0
    # strictly decreasing in sigma inside the schedule (time travel back up lowers progress)
    grid = np.linspace(9.9, 2.1, 40)
    prog = [sigma_progress(s, SIGMAS) for s in grid]
    assert all(b > a for a, b in zip(prog, prog[1:]))


def test_sigma_progress_flow_schedule_and_single_step():
    flow = [1.0, 0.75, 0.5, 0.25, 0.0]
    assert sigma_progress(0.625, flow) == pytest.approx(1.5 / 3)  # 4 steps: index 1.5 of 3
    assert sigma_progress(0.5, [0.5, 0.0]) == 0.0  # one step: progress 0


def test_at_sigma_matches_schedule_at_interpolated_progress():
    sched = LambdaSchedule.linear(1.0, 0.0, axis="steps")
    assert sched.at_sigma(8.0, SIGMAS) == pytest.approx(0.75)
    assert sched.at_sigma(7.0, SIGMAS) == pytest.approx(1.0 - 1.5 / 4)
    assert sched.at_sigma(2.0, SIGMAS) == pytest.approx(0.0)
    key = LambdaSchedule.from_keyframes("0:1, 0.5:0", axis="steps")
    assert key.at_sigma(9.0, SIGMAS) == pytest.approx(1.0 - (0.5 / 4) / 0.5)
    assert key.at_sigma(5.0, SIGMAS) == 0.0
    # the per-step array and at_sigma agree on the schedule's own sigmas
    arr = sched.array(5)
    assert [sched.at_sigma(s, SIGMAS) for s in SIGMAS[:-1]] == pytest.approx(arr.tolist())
