"""The gate step, through the CLI with real files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.cli import EXAMPLE, CliRunner, write_json, write_text

POLICY = """
metrics:
  accuracy: {min: 0.90}
  loss: {max: 0.40}
baseline:
  accuracy: {max_drop: 0.01}
  loss: {max_increase: 0.05}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return write_text(tmp_path / "policy.yaml", POLICY)


def metrics_file(tmp_path: Path, metrics: dict[str, object], name: str = "metrics.json") -> Path:
    return write_json(tmp_path / name, {"metrics": metrics, "dataset": {"name": "test"}})


@pytest.mark.parametrize(
    ("metrics", "exit_code"),
    [
        pytest.param({"accuracy": 0.95, "loss": 0.2}, 0, id="meets-bounds"),
        pytest.param({"accuracy": 0.90, "loss": 0.40}, 0, id="exactly-on-bounds"),
        pytest.param({"accuracy": 0.85, "loss": 0.2}, 1, id="below-min"),
        pytest.param({"accuracy": 0.95, "loss": 0.5}, 1, id="above-max"),
        pytest.param({"loss": 0.10}, 1, id="accuracy-missing"),
    ],
)
def test_gate_exit_code_follows_absolute_bounds(
    tmp_path: Path, cli: CliRunner, policy: Path, metrics: dict[str, object], exit_code: int
) -> None:
    result = cli("gate", "--metrics", metrics_file(tmp_path, metrics), "--policy", policy)
    assert result.exit_code == exit_code, result.stderr


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            '{"metrics": {"accuracy": NaN, "loss": 0.1}}', "accuracy is not a finite", id="nan"
        ),
        pytest.param(
            '{"metrics": {"accuracy": Infinity, "loss": 0.1}}', "accuracy is not a finite", id="inf"
        ),
        pytest.param(
            '{"metrics": {"loss": 0.1}}', "accuracy is missing from the metrics", id="missing"
        ),
    ],
)
def test_a_metric_that_is_not_a_finite_number_fails_the_gate_and_is_named_once(
    tmp_path: Path, cli: CliRunner, policy: Path, raw: str, message: str
) -> None:
    metrics = write_text(tmp_path / "metrics.json", raw)
    result = cli("gate", "--metrics", metrics, "--policy", policy, "--json")
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.json["verdict"] == "failed"
    failed = [check for check in result.json["checks"] if not check["passed"]]
    assert {check["metric"] for check in failed} == {"accuracy"}
    [verdict_line] = [line for line in result.stderr.splitlines() if "gate failed" in line]
    assert verdict_line.count(message) == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param('"0.97"', "'0.97'", id="string"),
        pytest.param("true", "True", id="bool"),
        pytest.param("null", "None", id="null"),
        pytest.param("[0.9]", "[0.9]", id="list"),
    ],
)
def test_a_metric_that_is_not_a_number_is_bad_input_named_once(
    tmp_path: Path, cli: CliRunner, value: str, shown: str
) -> None:
    both = write_text(
        tmp_path / "policy.yaml",
        "metrics:\n  accuracy: {min: 0.9, max: 1.0}\nbaseline:\n  accuracy: {max_drop: 0.01}\n",
    )
    metrics = write_text(tmp_path / "metrics.json", f'{{"metrics": {{"accuracy": {value}}}}}')
    result = cli("gate", "--metrics", metrics, "--policy", both, "--report-dir", "reports")
    assert result.exit_code == 2, result.stderr
    assert "has 1 metric that is not a number" in result.stderr
    assert result.stderr.count(f"accuracy: expected a number, got {shown}") == 1
    assert not (tmp_path / "reports").exists(), "no verdict is reported for bad input"


def test_a_missing_metric_lists_the_metrics_and_suggests_the_nearest(
    tmp_path: Path, cli: CliRunner
) -> None:
    policy = write_text(tmp_path / "policy.yaml", "metrics:\n  acuracy: {min: 0.9}\n")
    metrics = metrics_file(tmp_path, {"accuracy": 0.95, "loss": 0.2})
    result = cli("gate", "--metrics", metrics, "--policy", policy)
    assert result.exit_code == 1
    assert (
        "acuracy is missing from the metrics (they are: accuracy, loss; did you mean "
        "'accuracy'?)" in result.stderr
    )


def test_baseline_rules_without_a_baseline_source_warn_loudly_that_nothing_was_compared(
    tmp_path: Path, cli: CliRunner, policy: Path
) -> None:
    metrics = metrics_file(tmp_path, {"accuracy": 0.95, "loss": 0.2})
    result = cli(
        "gate", "--metrics", metrics, "--policy", policy, "--report-dir", "reports", "--json"
    )
    assert result.exit_code == 0
    assert "warning: no baseline requested" in result.stderr
    assert "NOT compared with what runs" in result.stderr
    assert "--env ENV" in result.stderr
    report = (tmp_path / "reports" / "gate-report.md").read_text()
    assert "**Not compared with what runs**" in report
    # Not the wording of an environment that has no release yet.
    assert "first release" not in report
    baseline_checks = [
        c for c in result.json["checks"] if c["rule"] in ("max_drop", "max_increase")
    ]
    assert len(baseline_checks) == 2
    assert all(c["passed"] and "no baseline requested" in c["note"] for c in baseline_checks)
    assert result.json["baseline_missing"] == "not compared: no baseline requested"


def test_a_policy_without_baseline_rules_needs_no_baseline_and_does_not_warn(
    tmp_path: Path, cli: CliRunner
) -> None:
    policy = write_text(tmp_path / "policy.yaml", "metrics:\n  accuracy: {min: 0.9}\n")
    metrics = metrics_file(tmp_path, {"accuracy": 0.95})
    result = cli("gate", "--metrics", metrics, "--policy", policy, "--report-dir", "reports")
    assert result.exit_code == 0
    assert "warning" not in result.stderr
    report = (tmp_path / "reports" / "gate-report.md").read_text()
    assert "Baseline: none requested (the policy has no baseline rules)." in report


@pytest.mark.parametrize(
    ("current", "exit_code", "failing_rule"),
    [
        pytest.param({"accuracy": 0.955, "loss": 0.21}, 0, None, id="within-allowance"),
        pytest.param({"accuracy": 0.95, "loss": 0.25}, 0, None, id="exactly-at-allowance"),
        pytest.param({"accuracy": 0.93, "loss": 0.2}, 1, "max_drop", id="accuracy-regressed"),
        pytest.param({"accuracy": 0.96, "loss": 0.30}, 1, "max_increase", id="loss-regressed"),
    ],
)
def test_gate_fails_on_regression_against_a_metrics_baseline(
    tmp_path: Path,
    cli: CliRunner,
    policy: Path,
    current: dict[str, float],
    exit_code: int,
    failing_rule: str | None,
) -> None:
    baseline = metrics_file(tmp_path, {"accuracy": 0.96, "loss": 0.20}, name="baseline.json")
    metrics = metrics_file(tmp_path, current)
    result = cli("gate", "--metrics", metrics, "--policy", policy, "--baseline", baseline, "--json")
    assert result.exit_code == exit_code, result.stderr
    failed_rules = [c["rule"] for c in result.json["checks"] if not c["passed"]]
    assert failed_rules == ([failing_rule] if failing_rule else [])


def test_gate_reads_the_baseline_from_a_release_record(
    tmp_path: Path, cli: CliRunner, policy: Path
) -> None:
    release = write_text(
        tmp_path / "release.yaml",
        """
apiVersion: ci-plugins/v1
kind: Release
app: digits
environment: prod
model: {version: "7", digest: "sha256:%s"}
metrics: {accuracy: 0.99, loss: 0.05}
"""
        % ("a" * 64),
    )
    metrics = metrics_file(tmp_path, {"accuracy": 0.95, "loss": 0.06})
    result = cli("gate", "--metrics", metrics, "--policy", policy, "--baseline", release, "--json")
    assert result.exit_code == 1
    assert "release 7 recorded in prod" in result.json["baseline"]
    drop = next(c for c in result.json["checks"] if c["rule"] == "max_drop")
    assert drop["baseline"] == 0.99
    assert drop["delta"] == pytest.approx(-0.04)
    assert not drop["passed"]


def test_advisory_mode_reports_the_failure_but_exits_zero(
    tmp_path: Path, cli: CliRunner, policy: Path
) -> None:
    metrics = metrics_file(tmp_path, {"accuracy": 0.5, "loss": 0.2})
    result = cli("gate", "--metrics", metrics, "--policy", policy, "--advisory", "--json")
    assert result.exit_code == 0
    assert result.json["verdict"] == "failed"
    assert "advisory" in result.stderr


def test_reports_hold_markdown_junit_json_and_openmetrics(
    tmp_path: Path, cli: CliRunner, policy: Path
) -> None:
    baseline = metrics_file(tmp_path, {"accuracy": 0.96, "loss": 0.20}, name="baseline.json")
    metrics = metrics_file(tmp_path, {"accuracy": 0.93, "loss": 0.2})
    result = cli(
        "gate",
        "--metrics",
        metrics,
        "--policy",
        policy,
        "--baseline",
        baseline,
        "--report-dir",
        "out",
    )
    assert result.exit_code == 1
    out = tmp_path / "out"
    markdown = (out / "gate-report.md").read_text()
    assert "| metric | value | bound | baseline | delta | result |" in markdown
    assert (
        "| accuracy | 0.93 | max drop vs baseline 0.96 (≥ 0.95) | 0.96 | -0.03 | ❌ fail |"
        in markdown
    )
    suite = ET.parse(out / "gate-junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "1"
    failures = [
        case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None
    ]
    assert failures == ["accuracy max drop vs baseline 0.96 (≥ 0.95)"]
    report = json.loads((out / "gate-report.json").read_text())
    assert report["verdict"] == "failed"
    assert (out / "metrics.txt").read_text().splitlines() == [
        "accuracy 0.93",
        "loss 0.2",
        "ci_plugins_gate_passed 0",
    ]


def test_gate_uses_the_config_policy_of_the_example_project(tmp_path: Path, cli: CliRunner) -> None:
    result = cli("gate", "--metrics", "example-metrics.json", "--json", cwd=EXAMPLE)
    assert result.exit_code == 0, result.stderr
    assert [c["metric"] for c in result.json["checks"]] == ["accuracy", "loss", "accuracy", "loss"]


def test_flags_read_ci_plugins_environment_variables(
    tmp_path: Path, cli: CliRunner, policy: Path
) -> None:
    metrics = metrics_file(tmp_path, {"accuracy": 0.5, "loss": 0.2})
    result = cli(
        "gate",
        env={
            "CI_PLUGINS_METRICS": str(metrics),
            "CI_PLUGINS_POLICY": str(policy),
            "CI_PLUGINS_JSON": "true",
        },
    )
    assert result.exit_code == 1
    assert result.json["command"] == "gate"


# -- bad input: exit 2, the message names the input, no traceback ------------------------


def _assert_input_error(result_exit: int, stderr: str, *needles: str) -> None:
    assert result_exit == 2, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        pytest.param("{not json", "is not valid JSON (line 1, column 2)", id="malformed"),
        pytest.param("[1, 2]", "must hold a JSON object, got list", id="not-an-object"),
        pytest.param('{"accuracy": 0.9}', 'must hold {"metrics"', id="no-metrics-key"),
    ],
)
def test_malformed_metrics_file_is_bad_input(
    tmp_path: Path, cli: CliRunner, policy: Path, raw: str, needle: str
) -> None:
    metrics = write_text(tmp_path / "metrics.json", raw)
    result = cli("gate", "--metrics", metrics, "--policy", policy, "--json")
    _assert_input_error(result.exit_code, result.stderr, str(metrics), needle)
    assert result.json == {
        "command": "gate",
        "ok": False,
        "exit_code": 2,
        "error": result.json["error"],
    }


# Bad inputs around a valid metrics.json (accuracy 0.95, loss 0.1); "POLICY" stands for
# the policy file, "METRICS" for the metrics file.
BAD_INPUTS = [
    pytest.param(
        {},
        ["--metrics", "nope.json", "--policy", "POLICY"],
        ["metrics file nope.json does not exist"],
        id="missing-metrics-file",
    ),
    pytest.param(
        {"policy.yaml": "metrics:\n  accuracy: {minimum: 0.9}\n"},
        ["--metrics", "METRICS", "--policy", "POLICY"],
        ["metrics.accuracy.minimum: unknown key (did you mean 'min'?)"],
        id="policy-rule-with-an-unknown-operator",
    ),
    pytest.param(
        {},
        ["--metrics", "METRICS", "--policy", "POLICY", "--baseline", "gone.yaml"],
        ["baseline file gone.yaml does not exist"],
        id="unreadable-baseline",
    ),
    pytest.param(
        {},
        ["--metrics", "METRICS"],
        ["no gate policy", "hint: add a 'gate:'"],
        id="no-policy-anywhere-with-a-hint",
    ),
    pytest.param({}, [], ["--metrics"], id="missing-required-flag"),
]


@pytest.mark.parametrize(("files", "args", "needles"), BAD_INPUTS)
def test_bad_input_is_exit_2_naming_the_input(
    tmp_path: Path,
    cli: CliRunner,
    policy: Path,
    files: dict[str, str],
    args: list[str],
    needles: list[str],
) -> None:
    for name, text in files.items():
        write_text(tmp_path / name, text)
    metrics = metrics_file(tmp_path, {"accuracy": 0.95, "loss": 0.1})
    paths = {"POLICY": str(policy), "METRICS": str(metrics)}
    result = cli("gate", *[paths.get(arg, arg) for arg in args])
    _assert_input_error(result.exit_code, result.stderr, *needles)
