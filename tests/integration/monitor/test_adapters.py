"""The Prometheus and pipeline-trigger adapters against the real Prometheus and the local
forge server, and the decision tags against a real bare repo; no test really waits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ci_plugins.adapters import pipeline_trigger, prometheus
from ci_plugins.config.models import TriggerConfig
from ci_plugins.envrepo.checkout import checkout
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.monitor import decision
from tests.integration.monitor.conftest import (
    ANCHOR,
    JENKINS_JOB,
    JENKINS_TOKEN,
    MODEL_PROJECT,
    MODEL_REPO,
    TOKEN,
    TRIGGER_TOKEN,
)
from tests.support.clock import FakeClock
from tests.support.envrepo import git, seed_files
from tests.support.forge_server import ForgeServer
from tests.support.prometheus import BackfilledPrometheus


@pytest.fixture
def server(prometheus: BackfilledPrometheus) -> BackfilledPrometheus:
    """The session's Prometheus (the name `prometheus` is the adapter module here)."""
    return prometheus


# -- Prometheus ---------------------------------------------------------------------------
def test_range_query_gives_one_point_per_window(server: BackfilledPrometheus) -> None:
    [series] = prometheus.query_range(
        server.url,
        'avg_over_time(live_accuracy{scenario="degraded"}[1m])',
        start=ANCHOR - 120,
        end=ANCHOR,
        step=60,
    )
    assert series.labels == {"scenario": "degraded"}
    assert [t for t, _ in series.points] == [ANCHOR - 120, ANCHOR - 60, ANCHOR]
    assert [v for _, v in series.points] == pytest.approx([0.97, 0.80, 0.82])


def test_instant_query_and_retention(server: BackfilledPrometheus) -> None:
    [series] = prometheus.query(
        server.url, 'avg_over_time(live_accuracy{scenario="healthy"}[1m])', at=ANCHOR
    )
    assert series.points[0] == (ANCHOR, pytest.approx(0.97))
    assert prometheus.retention_seconds(server.url) == 86400


def test_a_query_that_does_not_parse_is_bad_input(server: BackfilledPrometheus) -> None:
    with pytest.raises(prometheus.QueryError) as caught:
        prometheus.query(server.url, "sum(rate(x[5m])")
    assert caught.value.exit_code == 2
    assert caught.value.error_type == "bad_data"
    assert "parse error" in str(caught.value)


def test_an_unreachable_prometheus_is_retried_then_exit_3() -> None:
    clock = FakeClock()
    with pytest.raises(prometheus.PrometheusUnavailable) as caught:
        prometheus.query("http://127.0.0.1:9", "up", clock=clock)
    assert caught.value.exit_code == 3
    assert "cannot reach Prometheus at http://127.0.0.1:9" in str(caught.value)
    assert clock.sleeps == [1.0, 2.0]


# -- pipeline triggers ----------------------------------------------------------------------
GITLAB = TriggerConfig(forge="gitlab", project=MODEL_PROJECT, ref="main")
GITHUB = TriggerConfig(forge="github", repo=MODEL_REPO, workflow="ml.yml", ref="main")
JENKINS = TriggerConfig(forge="jenkins", url="http://unused", job=JENKINS_JOB)


def start(
    trigger: TriggerConfig,
    forge: ForgeServer,
    environ: dict[str, str],
    variables: dict[str, str] | None = None,
    clock: FakeClock | None = None,
) -> pipeline_trigger.Triggered:
    trigger = trigger.model_copy(update={"url": forge.url})
    creds = pipeline_trigger.credentials(trigger, environ)
    return pipeline_trigger.start_pipeline(
        trigger,
        creds,
        variables or {"CI_PLUGINS_TRIGGERED_BY": "monitor"},
        environ=environ,
        clock=clock or FakeClock(),
    )


def test_gitlab_trigger_sends_token_ref_and_variables(forge: ForgeServer) -> None:
    started = start(GITLAB, forge, {"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN})
    [pipeline] = forge.gitlab_pipelines(MODEL_PROJECT)
    assert started.url == pipeline["web_url"]
    assert started.id == str(pipeline["id"])
    assert pipeline["variables"] == {"CI_PLUGINS_TRIGGERED_BY": "monitor"}
    [request] = forge.writes()
    assert request.path == "/api/v4/projects/ml%2Fdigits/trigger/pipeline"


def test_github_refuses_inputs_the_workflow_does_not_declare(forge: ForgeServer) -> None:
    with pytest.raises(InputError, match=r"HTTP 422.*Unexpected inputs provided: \[\"X\"\]"):
        start(GITHUB, forge, {"GITHUB_TOKEN": TOKEN}, variables={"X": "1"})
    assert forge.github_dispatches(MODEL_REPO) == []


def test_jenkins_sends_the_crumb_and_basic_auth(forge: ForgeServer) -> None:
    environ = {"CI_PLUGINS_JENKINS_USER": "monitor-bot", "CI_PLUGINS_JENKINS_TOKEN": JENKINS_TOKEN}
    started = start(JENKINS, forge, environ)
    assert started.url is not None
    assert started.url.startswith(f"{forge.url}/queue/item/")
    [build] = [r for r in forge.requests if r.path.endswith("/buildWithParameters")]
    assert build.path == "/job/ml/job/digits-train/buildWithParameters"
    assert build.headers["jenkins-crumb"] == forge.jenkins_crumb
    assert forge.jenkins_builds(JENKINS_JOB) == [{"CI_PLUGINS_TRIGGERED_BY": "monitor"}]


@pytest.mark.parametrize(
    ("trigger", "environ", "words"),
    [
        pytest.param(GITLAB, {}, "set CI_PLUGINS_GITLAB_TRIGGER_TOKEN", id="gitlab-no-token"),
        pytest.param(
            GITHUB, {}, "set CI_PLUGINS_GITHUB_TOKEN or GITHUB_TOKEN", id="github-no-token"
        ),
        pytest.param(
            JENKINS,
            {"CI_PLUGINS_JENKINS_TOKEN": JENKINS_TOKEN},
            "set CI_PLUGINS_JENKINS_USER",
            id="jenkins-no-user",
        ),
        pytest.param(
            JENKINS,
            {"CI_PLUGINS_JENKINS_USER": "someone", "CI_PLUGINS_JENKINS_TOKEN": "wrong-token-1"},
            "HTTP 401",
            id="jenkins-wrong-token",
        ),
        pytest.param(
            GITHUB.model_copy(update={"workflow": "nope.yml"}),
            {"GITHUB_TOKEN": TOKEN},
            "has no workflow 'nope.yml' in 'acme/digits' (HTTP 404)",
            id="github-unknown-workflow",
        ),
        pytest.param(
            JENKINS.model_copy(update={"job": "ml/unknown"}),
            {"CI_PLUGINS_JENKINS_USER": "monitor-bot", "CI_PLUGINS_JENKINS_TOKEN": JENKINS_TOKEN},
            "has no job 'ml/unknown' (HTTP 404)",
            id="jenkins-unknown-job",
        ),
    ],
)
def test_credentials_and_targets_the_user_must_fix_are_exit_2(
    forge: ForgeServer, trigger: TriggerConfig, environ: dict[str, str], words: str
) -> None:
    with pytest.raises(InputError) as caught:
        start(trigger, forge, environ)
    assert words in str(caught.value)
    assert forge.pipelines_started() == 0


def test_5xx_is_retried_with_backoff_then_exit_3(forge: ForgeServer) -> None:
    forge.fail(503, path_contains="/dispatches", times=5)
    clock = FakeClock()
    with pytest.raises(ExternalError, match=r"HTTP 503.*gave up after 3 attempts") as caught:
        start(GITHUB, forge, {"GITHUB_TOKEN": TOKEN}, clock=clock)
    assert caught.value.exit_code == 3
    assert clock.sleeps == [1.0, 2.0]
    assert TOKEN not in str(caught.value)


def test_a_5xx_followed_by_success_starts_one_pipeline(forge: ForgeServer) -> None:
    forge.fail(502, path_contains="/trigger/pipeline", times=1)
    start(GITLAB, forge, {"CI_PLUGINS_GITLAB_TRIGGER_TOKEN": TRIGGER_TOKEN})
    assert len(forge.gitlab_pipelines(MODEL_PROJECT)) == 1


# -- decision tags ----------------------------------------------------------------------------
def test_a_decision_number_can_be_claimed_once_and_withdrawn(env_repo: Path) -> None:
    head = seed_files(env_repo, {"environments/prod/digits/release.yaml": "kind: Release\n"})
    record = decision.Decision(1, 1_800_000_000.5, "2 of 3 broke", "7", {"forge": "gitlab"})
    with checkout(str(env_repo)) as first, checkout(str(env_repo)) as second:
        assert decision.latest_decision(first, "prod", "digits") is None
        assert decision.claim(first, "prod", "digits", record) is True
        assert decision.claim(second, "prod", "digits", record) is False
        latest = decision.latest_decision(second, "prod", "digits")
        assert latest == record
        assert latest is not None
        assert latest.when == "2027-01-15T08:00:00+00:00"
        tag = "refs/tags/ci-plugins/retrain/prod/digits/1"
        assert git("rev-parse", f"{tag}^{{commit}}", cwd=env_repo).strip() == head
        decision.withdraw(first, "prod", "digits", 1)
        assert decision.latest_decision(second, "prod", "digits") is None


def test_a_decision_tag_made_by_hand_counts_from_its_tag_date(env_repo: Path) -> None:
    head = seed_files(env_repo, {"environments/prod/digits/release.yaml": "kind: Release\n"})
    git(
        "tag",
        "-a",
        "-m",
        "retrained by hand: [not yaml",
        "ci-plugins/retrain/prod/digits/4",
        head,
        cwd=env_repo,
    )
    with checkout(str(env_repo)) as repo:
        latest = decision.latest_decision(repo, "prod", "digits")
    assert latest is not None
    assert latest.number == 4
    assert abs(latest.decided_at - time.time()) < 120
