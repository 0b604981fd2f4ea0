"""`ci-plugins analyze` through the CLI: exit codes, JSON, reports, and every input a
user can get wrong (message, exit code, environment repo unchanged)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.analysis.conftest import APP, GOOD_BODY, NAMESPACE, Live
from tests.integration.analysis.test_live_analysis import WINDOW, load_both
from tests.support.cli import CliRunner
from tests.support.envrepo import make_bare_repo, remote_head, seed_files


def write_config(tmp_path: Path, live: Live, env_repo: Path, **analysis: Any) -> Path:
    data: dict[str, Any] = {
        "app": APP,
        "env_repo": {"url": str(env_repo)},
        "environments": {"staging": {"namespace": NAMESPACE}},
        "analysis": {
            "prometheus": live.prometheus,
            "window": f"{WINDOW:g}s",
            "min_requests": 40,
            "metrics": {"error_ratio": {"max": 0.01}, "latency_p99_ms": {"max": 5000}},
        },
    }
    data["analysis"].update(analysis)
    path = tmp_path / "ci-plugins.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def seeded_repo(tmp_path: Path) -> Path:
    bare = make_bare_repo(tmp_path / "env.git")
    seed_files(bare, {f"environments/staging/{APP}/release.yaml": "app: digits\n"})
    return bare


def test_analyze_passes_a_healthy_canary_and_writes_reports(
    tmp_path: Path, cli: CliRunner, live: Live, seeded_repo: Path
) -> None:
    write_config(tmp_path, live, seeded_repo)
    # Traffic from elsewhere (analysis.load is not set): the window of analyze ends when
    # it runs, so the load lasts long enough to cover the CLI's start-up too.
    background = threading.Thread(
        target=load_both, args=(live,), kwargs={"candidate_body": GOOD_BODY, "seconds": 30}
    )
    background.start()
    time.sleep(6)
    try:
        result = cli("analyze", "--env", "staging", "--json", "--report-dir", tmp_path / "reports")
    finally:
        background.join()

    assert result.exit_code == 0, result.stderr
    document = result.json
    assert document["verdict"] == "passed"
    assert document["command"] == "analyze"
    (step,) = document["steps"]
    assert step["verdict"] == "passed"
    assert step["metrics"]["error_ratio"] == {"candidate": 0.0, "stable": 0.0}
    assert step["metrics"]["requests"]["candidate"] >= 40
    markdown = (tmp_path / "reports" / "analysis-report.md").read_text()
    assert "| metric | candidate | stable | bounds | status |" in markdown
    junit = (tmp_path / "reports" / "analysis-junit.xml").read_text()
    assert 'name="error_ratio max 0.01"' in junit
    report = json.loads((tmp_path / "reports" / "analysis-report.json").read_text())
    assert report["verdict"] == "passed"


def test_analyze_without_traffic_exits_1_inconclusive(
    tmp_path: Path, cli: CliRunner, live: Live, seeded_repo: Path
) -> None:
    write_config(tmp_path, live, seeded_repo)
    # Without analysis.load the window is the 3 s before analyze runs: let the previous
    # test's load (which ended just now) leave it, and a 1 s scrape record that.
    time.sleep(5)

    result = cli("analyze", "--env", "staging", "--duration", "3", "--json")

    assert result.exit_code == 1, result.stderr
    assert result.json["verdict"] == "inconclusive"
    assert "candidate track: 0 requests served, fewer than min_requests 40" in result.stderr


def test_analyze_of_pods_prometheus_does_not_see_says_so(
    tmp_path: Path, cli: CliRunner, live: Live, seeded_repo: Path
) -> None:
    path = write_config(tmp_path, live, seeded_repo)
    data = yaml.safe_load(path.read_text())
    data["environments"]["staging"]["namespace"] = "ml-elsewhere"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    result = cli("analyze", "--env", "staging", "--duration", "3", "--json")

    assert result.exit_code == 1, result.stderr
    assert result.json["verdict"] == "inconclusive"
    assert "current track: no request samples, fewer than min_requests 40" in result.stderr
    assert "Prometheus has no request samples of pods labelled namespace=ml-elsewhere" in (
        result.stderr
    )


GOLDEN_BAD = '{"instances": [[0.0]]}\n{"instances": [[0.0]\n'


@pytest.mark.parametrize(
    ("analysis", "environments", "golden", "exit_code", "words"),
    [
        pytest.param(
            {"metrics": {"error_rate": {"max": 0.1}}},
            None,
            None,
            2,
            "analysis.metrics: unknown metric 'error_rate' (did you mean 'error_ratio'?)",
            id="unknown-metric",
        ),
        pytest.param(
            {"queries": {"cpu": {"query": "sum(rate(x{{selector}}[{window}])", "max": 1}}},
            None,
            None,
            2,
            'Prometheus cannot run the query \'sum(rate(x{namespace="ml-staging"',
            id="query-does-not-parse",
        ),
        pytest.param(
            {"prometheus": "http://127.0.0.1:9"},
            None,
            None,
            3,
            "cannot reach Prometheus at http://127.0.0.1:9",
            id="prometheus-unreachable",
        ),
        pytest.param(
            {},
            {
                "staging": {
                    "namespace": NAMESPACE,
                    "rollout": {"strategy": "canary", "steps": [50, 10]},
                }
            },
            None,
            2,
            "environments.staging.rollout: steps must increase: 10 follows 50",
            id="steps-not-increasing",
        ),
        pytest.param(
            {},
            {"staging": {"namespace": NAMESPACE, "rollout": {"steps": [10, 50]}}},
            None,
            2,
            "environments.staging.rollout: steps must end at 100, the last is 50",
            id="steps-not-ending-at-100",
        ),
        pytest.param(
            {"load": {"rate": 5, "requests": "golden.jsonl"}},
            None,
            GOLDEN_BAD,
            2,
            "golden.jsonl line 2 is not JSON",
            id="golden-bad-line",
        ),
        pytest.param(
            {"load": {"rate": 5, "requests": "golden.jsonl"}},
            None,
            '{"instances": [[0.0]]}\n[1, 2]\n',
            2,
            "golden.jsonl line 2 must be a JSON object",
            id="golden-line-not-an-object",
        ),
        pytest.param(
            {"metrics": {"load_rate": {"min": 5}}},
            None,
            None,
            2,
            "analysis.metrics names load_rate, figures of the generated load",
            id="load-metric-without-load",
        ),
    ],
)
def test_bad_input_is_named_and_leaves_the_env_repo_alone(
    tmp_path: Path,
    cli: CliRunner,
    live: Live,
    seeded_repo: Path,
    analysis: dict[str, Any],
    environments: dict[str, Any] | None,
    golden: str | None,
    exit_code: int,
    words: str,
) -> None:
    path = write_config(tmp_path, live, seeded_repo, **analysis)
    if environments is not None:
        data = yaml.safe_load(path.read_text())
        data["environments"] = environments
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    if golden is not None:
        (tmp_path / "golden.jsonl").write_text(golden, encoding="utf-8")
    head = remote_head(seeded_repo)

    result = cli("analyze", "--env", "staging", "--json")

    assert result.exit_code == exit_code, result.stderr
    assert words in result.stderr
    assert result.json["ok"] is False
    assert remote_head(seeded_repo) == head


def test_a_query_that_does_not_parse_shows_prometheus_own_error(
    tmp_path: Path, cli: CliRunner, live: Live, seeded_repo: Path
) -> None:
    write_config(tmp_path, live, seeded_repo, queries={"q": {"query": "sum(", "max": 1}})

    result = cli("analyze", "--env", "staging")

    assert result.exit_code == 2
    assert "Prometheus cannot run the query 'sum(': " in result.stderr
    assert "parse error" in result.stderr


def test_no_analysis_section_is_exit_2(tmp_path: Path, cli: CliRunner, seeded_repo: Path) -> None:
    (tmp_path / "ci-plugins.yaml").write_text(
        f"app: {APP}\nenvironments: {{staging: {{}}}}\n", encoding="utf-8"
    )
    result = cli("analyze", "--env", "staging")
    assert result.exit_code == 2
    assert "ci-plugins.yaml has no analysis: section" in result.stderr


def test_if_configured_without_analysis_section_is_nothing_to_do(
    tmp_path: Path, cli: CliRunner, seeded_repo: Path
) -> None:
    """What the pipelines run before every prod promotion: no analysis: is no error there."""
    (tmp_path / "ci-plugins.yaml").write_text(
        f"app: {APP}\nenvironments: {{staging: {{}}}}\n", encoding="utf-8"
    )
    result = cli("analyze", "--env", "staging", "--if-configured", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["verdict"] == "none"
    assert "ci-plugins.yaml has no analysis: section; nothing to measure" in result.stderr


def test_if_configured_with_an_analysis_section_still_measures(
    tmp_path: Path, cli: CliRunner, seeded_repo: Path
) -> None:
    """The flag only skips a missing section: an unreachable Prometheus is still exit 3."""
    (tmp_path / "ci-plugins.yaml").write_text(
        f"app: {APP}\nenvironments: {{staging: {{}}}}\n"
        "analysis: {prometheus: 'http://127.0.0.1:9', window: 5s, min_requests: 1,"
        " metrics: {error_ratio: {max: 0.01}}}\n",
        encoding="utf-8",
    )
    result = cli("analyze", "--env", "staging", "--if-configured")
    assert result.exit_code == 3, result.stderr
    assert "cannot reach Prometheus at http://127.0.0.1:9" in result.stderr
