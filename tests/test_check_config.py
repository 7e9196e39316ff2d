"""The [check] config parser and the verdict logic, without running anything."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.check.compare import compare_metric, min_p_value
from perfkit.check.config import parse_gate_config, parse_value
from perfkit.check.model import Limits, Metric
from perfkit.config import Config
from perfkit.errors import ConfigError

PATH = Path("/project/perfkit.toml")


def gate(checks: dict[str, Any], **settings_: Any) -> Any:
    return parse_gate_config(Config(PATH, {"check": {**settings_, **checks}}))


def test_shorthand_limits_apply_to_the_first_metric_and_paths_resolve() -> None:
    g = gate(
        {
            "startup": {
                "type": "command",
                "run": "true",
                "cwd": "svc",
                "max_increase": "10%",
                "max": "1.5s",
                "limits": {"cpu": {"max_increase": 0.2}},
            }
        },
        retries=3,
    )
    c = g.check("startup")
    assert c.limits["wall"] == Limits(max_increase=0.10, max=1.5)
    assert c.limits["cpu"] == Limits(max_increase=0.2)
    assert c.params["cwd"] == Path("/project/svc")
    assert c.params["runs"] == 10 and c.params["timeout"] == 60.0
    assert g.settings == {"retries": 3}


def test_a_check_named_like_a_setting_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        gate({"retries": {"type": "command", "run": "true"}})
    assert str(err.value) == (
        "/project/perfkit.toml: [check.retries] 'retries' is the name of a setting; "
        "choose another check name"
    )


def test_direction_of_a_limit_must_match_the_metric() -> None:
    with pytest.raises(ConfigError) as err:
        gate(
            {
                "q": {
                    "type": "batch",
                    "input": "q.jsonl",
                    "limits": {"throughput": {"max_increase": "10%"}},
                }
            }
        )
    assert str(err.value) == (
        "/project/perfkit.toml: [check.q.limits.throughput] max_increase: throughput is "
        "better when higher: use max_decrease"
    )


def test_no_config_file_says_how_to_get_one() -> None:
    with pytest.raises(ConfigError) as err:
        parse_gate_config(Config(None, {}))
    assert str(err.value) == (
        "perfkit.toml: config file not found (run `perfkit init`, or pass --config FILE)"
    )


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.text(max_size=12),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    ),
    key=st.sampled_from(["max_increase", "max", "runs", "timeout", "run", "warmup"]),
)
def test_any_value_is_accepted_or_a_config_error(value: Any, key: str) -> None:
    """Whatever a user writes, the parser answers with a ConfigError naming the key, never a crash."""
    table = {"type": "command", "run": "true", key: value}
    try:
        gate({"a": table})
    except ConfigError as exc:
        assert f"[check.a] {key}: " in str(exc)


@given(ms=st.integers(min_value=0, max_value=10**7))
def test_durations_in_limits_are_seconds(ms: int) -> None:
    assert math.isclose(parse_value(f"{ms}ms", "s"), ms / 1000)
    assert parse_value(ms, "count") == ms


def _metric(samples: list[float], kind: str = "timing") -> Metric:
    return Metric("wall", "s", kind, tuple(samples))  # type: ignore[arg-type]


def test_a_crossed_limit_without_significance_is_noisy_not_a_regression() -> None:
    base = _metric([0.100, 0.101, 0.099, 0.100, 0.102])
    cur = _metric([0.090, 0.150, 0.095, 0.140, 0.092, 0.145])  # median 0.1175: +17%
    r = compare_metric("c", cur, base, Limits(max_increase=0.10), alpha=0.05, have_baseline=True)
    assert r.status == "noisy"
    assert r.p_value is not None and r.p_value >= 0.05


def test_a_crossed_limit_with_significance_is_a_regression() -> None:
    base = _metric([0.100, 0.101, 0.099, 0.100, 0.102])
    cur = _metric([0.130, 0.131, 0.129, 0.135, 0.128])
    r = compare_metric("c", cur, base, Limits(max_increase=0.10), alpha=0.05, have_baseline=True)
    assert r.status == "regression"
    assert r.note == "over +10%; p=0.00596 < 0.05"


def test_significant_but_within_the_limit_passes() -> None:
    base = _metric([0.100, 0.101, 0.099, 0.100, 0.102])
    cur = _metric([0.105, 0.106, 0.104, 0.105, 0.107])
    r = compare_metric("c", cur, base, Limits(max_increase=0.10), alpha=0.05, have_baseline=True)
    assert r.status == "pass"


def test_deterministic_metrics_compare_exactly_in_the_worse_direction() -> None:
    base = Metric("cost", "cost", "deterministic", (100.0,))
    worse = Metric("cost", "cost", "deterministic", (100.5,))
    better = Metric("cost", "cost", "deterministic", (80.0,))
    assert compare_metric("q", worse, base, Limits(), alpha=0.05, have_baseline=True).status == (
        "regression"
    )
    assert compare_metric("q", better, base, Limits(), alpha=0.05, have_baseline=True).status == (
        "improved"
    )


def test_too_few_samples_can_never_be_significant() -> None:
    assert min_p_value(3, 3) == 0.05
    assert min_p_value(5, 5) < 0.005


def test_baseline_setting_is_the_option_default(cli: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "perfkit.toml"
    base = tmp_path / "base.json"
    cfg.write_text(
        f'[check]\nbaseline = "{base}"\n\n[check.t]\ntype = "command"\nrun = "true"\nruns = 2\n'
    )
    r = cli("--config", str(cfg), "check", "--save-baseline", str(base))
    assert r.exit_code == 2  # the baseline named in [check] does not exist yet
    assert "baseline file not found" in r.stderr
    cfg.write_text('[check.t]\ntype = "command"\nrun = "true"\nruns = 2\n')
    assert cli("--config", str(cfg), "check", "--save-baseline", str(base)).exit_code == 0
    cfg.write_text(
        f'[check]\nbaseline = "{base}"\n\n[check.t]\ntype = "command"\nrun = "true"\nruns = 2\n'
    )
    r = cli("--config", str(cfg), "check", "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["baseline"]["path"] == str(base)


def test_the_sample_config_holds_every_check_type_and_is_valid() -> None:
    from perfkit.check.types import REGISTRY
    from perfkit.config import load_config

    sample = Path(__file__).resolve().parent.parent / "sample_configs" / "perfkit.check.toml"
    g = parse_gate_config(load_config(sample))
    assert {c.type for c in g.checks} == set(REGISTRY)
    for c in g.checks:
        for key in ("file", "log", "input"):
            path = c.params.get(key)
            if path is not None:
                assert path.is_file(), f"{c.name}: {path} is missing"


@settings(max_examples=200, deadline=None)
@given(
    samples=st.lists(st.floats(min_value=1e-4, max_value=10.0), min_size=1, max_size=12),
    rel=st.floats(min_value=0.0, max_value=1.0),
    kind=st.sampled_from(["timing", "deterministic"]),
)
def test_the_same_measurement_never_regresses(samples: list[float], rel: float, kind: str) -> None:
    m = Metric("x", "s", kind, tuple(samples))  # type: ignore[arg-type]
    r = compare_metric("c", m, m, Limits(max_increase=rel), alpha=0.05, have_baseline=True)
    assert r.status == "pass"
