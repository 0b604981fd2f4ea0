"""Load and validate ci-plugins.yaml: every problem at once, with its key path.

Steps receive these frozen models, never raw dicts. `Config.model_json_schema()` is
published as ci_plugins/config/schema/ci-plugins.schema.json for editors.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ci_plugins import safe_read
from ci_plugins.config.durations import DURATION_PATTERN, MAX_SECONDS, parse_duration
from ci_plugins.config.names import APP_MAX, ENV_MAX, branch_problem, dns_label_problem
from ci_plugins.errors import InputError

M = TypeVar("M", bound=BaseModel)

DEFAULT_CONFIG = Path("ci-plugins.yaml")
SCHEMA_PATH = Path(__file__).parent / "schema" / "ci-plugins.schema.json"


def _label(max_length: int) -> AfterValidator:
    def check(value: str) -> str:
        problem = dns_label_problem(value, max_length=max_length)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


AppName = Annotated[
    str, _label(APP_MAX), Field(description="DNS-1123 label, at most 53 characters")
]
EnvName = Annotated[str, _label(ENV_MAX), Field(description="DNS-1123 label")]
Number = Annotated[float, AfterValidator(_finite)]
NonNegative = Annotated[float, Field(ge=0), AfterValidator(_finite)]
# Every duration key: seconds or "90s"/"5m"/"1h", finite and at most a week (durations.py).
Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
                {"type": "string", "pattern": DURATION_PATTERN},
            ]
        }
    ),
]


# A duration that must be longer than zero (windows, cooldowns, timeouts).
Duration = Annotated[Seconds, Field(gt=0, description="seconds, or a duration like 90s, 5m, 1h")]


class Section(BaseModel):
    """A config section: unknown keys are errors, values are never coerced from strings."""

    # defer_build: a model's validator is built on its first use, not at import, so a
    # command pays only for the models it validates (#11 item 10, benchmarks/startup.py).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class MetricBounds(Section):
    """Absolute bounds for one metric."""

    min: Number | None = Field(default=None, description="fail when the metric is below this")
    max: Number | None = Field(default=None, description="fail when the metric is above this")


class BaselineRule(Section):
    """How far a metric may move against the release the environment runs now."""

    max_drop: NonNegative | None = Field(
        default=None, description="largest allowed decrease vs the baseline (absolute)"
    )
    max_increase: NonNegative | None = Field(
        default=None, description="largest allowed increase vs the baseline (absolute)"
    )


class GatePolicy(Section):
    """The gate policy: absolute bounds and no-regression rules."""

    metrics: dict[str, MetricBounds] = Field(default_factory=dict)
    baseline: dict[str, BaselineRule] = Field(default_factory=dict)


def _entrypoint(value: str) -> str:
    module, colon, function = value.partition(":")
    if colon and module.endswith(".py"):
        # model.py:build reads as a submodule `py` of a package `model` (#17).
        fixed = f"{module.removesuffix('.py').replace('/', '.')}:{function}"
        raise ValueError(f"{value!r} names a file: drop the .py (use {fixed!r}, module:function)")
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", value):
        raise ValueError(f"expected module:function (e.g. model:build), got {value!r}")
    return value


# --- train.tune: hyper-parameter search (docs/train.md, "Hyper-parameter search") -------


def _positive_budget(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a budget of {value:g} seconds runs no trial; give a positive duration")
    return value


def _budget(value: int) -> int:
    if value < 1:
        raise ValueError(f"a budget of {value} runs no trial; give at least 1")
    return value


def _non_empty_space(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        raise ValueError("empty search space; name at least one parameter to search")
    return value


Budget = Annotated[int, AfterValidator(_budget)]
TuneDuration = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_positive_budget),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ]
        }
    ),
]
ChoiceValue = bool | int | float | str


class SearchParameter(Section):
    """One hyper-parameter of the search space; build(params) reads it as params[name]."""

    type: Literal["int", "float", "choice"] = Field(
        description="int: whole numbers min..max (step); float: min..max (sampling); "
        "choice: one of values"
    )
    min: Number | None = Field(default=None, description="int/float: smallest value")
    max: Number | None = Field(default=None, description="int/float: largest value")
    step: Number | None = Field(
        default=None, description="int: distance between values (default 1); float: optional"
    )
    sampling: Literal["linear", "log"] = Field(
        default="linear", description="log: sample evenly in log scale (min > 0)"
    )
    values: list[ChoiceValue] | None = Field(default=None, description="choice: the options")

    @model_validator(mode="after")
    def _check_range(self) -> SearchParameter:
        problem = search_parameter_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def search_parameter_problem(p: SearchParameter) -> str | None:
    """Why this parameter cannot be searched (empty or inverted range...), or None."""
    if p.type == "choice":
        if p.min is not None or p.max is not None or p.step is not None:
            return "a choice takes values: [...], not min/max/step"
        if not p.values:
            return "empty choice: give at least two values"
        if len(set(map(repr, p.values))) != len(p.values):
            return f"values {p.values} repeat an option"
        if len(p.values) < 2:
            return (
                f"a choice of one value ({p.values[0]!r}) searches nothing: put it in train.params"
            )
        return None
    if p.values is not None:
        return f"values: is for type: choice; an {p.type} takes min and max"
    if p.min is None or p.max is None:
        return f"an {p.type} needs both min and max"
    if p.min > p.max:
        return f"inverted range: min {p.min:g} is above max {p.max:g}"
    if p.min == p.max:
        return f"empty range: min and max are both {p.min:g}; put a fixed value in train.params"
    if p.type == "int" and not (float(p.min).is_integer() and float(p.max).is_integer()):
        return f"an int range needs whole numbers, got {p.min:g}..{p.max:g}"
    if p.step is not None and (p.step <= 0 or p.step > p.max - p.min):
        return f"step {p.step:g} must be above 0 and at most max - min ({p.max - p.min:g})"
    if p.type == "int" and p.step is not None and not float(p.step).is_integer():
        return f"an int step must be a whole number, got {p.step:g}"
    if p.sampling == "log" and p.min <= 0:
        return f"log sampling needs min > 0, got {p.min:g}"
    return None


class TuneObjective(Section):
    """What the search optimises: a metric of the fit history and its direction."""

    metric: str = Field(
        min_length=1,
        description="a metric the model reports while fitting: loss, a compiled metric "
        "(accuracy...) or its val_ form (needs validation data); best epoch counts",
    )
    direction: Literal["min", "max"] = Field(description="max for accuracy, min for loss")


class TuneConfig(Section):
    """Hyper-parameter search (keras-tuner) before the final fit; docs/train.md."""

    tuner: Literal["bayesian", "random", "hyperband"] = Field(
        default="bayesian",
        description="bayesian (Gaussian process), random, or hyperband (max_trials caps it)",
    )
    objective: TuneObjective = Field(description="the metric to optimise and its direction")
    max_trials: Budget = Field(default=10, description="trials in the whole search (budget)")
    epochs: Budget = Field(
        default=3, description="epochs per trial (hyperband: the most per trial)"
    )
    max_time: TuneDuration | None = Field(
        default=None,
        description="wall-time budget of this job's search (seconds or 90s/5m/1h): no trial "
        "starts that the mean trial time says would end after it",
    )
    space: Annotated[dict[str, SearchParameter], AfterValidator(_non_empty_space)] = Field(
        description="name -> parameter; build reads params[name]"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="passed to the keras-tuner tuner, e.g. num_initial_points, alpha, beta "
        "(bayesian), factor, hyperband_iterations (hyperband)",
    )
    directory: str | None = Field(
        default=None,
        description="the tuner's state, to cache or keep between job retries (relative to "
        "ci-plugins.yaml; --tune-dir overrides; default OUTPUT/tuning)",
    )

    @model_validator(mode="after")
    def _check_options(self) -> TuneConfig:
        unknown = sorted(set(self.options) - set(TUNER_OPTIONS[self.tuner]))
        if unknown:
            known = ", ".join(TUNER_OPTIONS[self.tuner])
            raise ValueError(f"options: {self.tuner} does not take {', '.join(unknown)} ({known})")
        return self


# The keyword arguments of keras-tuner's oracles that a user may set (1.4).
TUNER_OPTIONS: dict[str, tuple[str, ...]] = {
    "bayesian": ("num_initial_points", "alpha", "beta", "max_retries_per_trial"),
    "random": ("max_retries_per_trial",),
    "hyperband": ("factor", "hyperband_iterations", "max_retries_per_trial"),
}

# --- end of train.tune ------------------------------------------------------------------


_PINNED_IMAGE = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")
_ADDRESS_FIELDS = {"job", "index", "service", "namespace", "port", "index_port"}
RESOURCE_NAMES = ("cpu", "memory", "nvidia.com/gpu")


def _pinned_image(value: str) -> str:
    if not _PINNED_IMAGE.fullmatch(value):
        raise ValueError(
            f"expected an image pinned by digest (name@sha256:<64 hex>), got {value!r}"
        )
    return value


def _quantities(value: dict[str, str | int]) -> dict[str, str | int]:
    from kubernetes.utils import parse_quantity  # only configs that train on a cluster

    for name, quantity in value.items():
        if not re.fullmatch(r"([a-z0-9.-]+/)?[a-z0-9]([a-z0-9_.-]*[a-z0-9])?", name):
            raise ValueError(f"{name!r} is not a resource name (e.g. cpu, memory, nvidia.com/gpu)")
        try:
            amount = parse_quantity(quantity)  # type: ignore[no-untyped-call]
        except ValueError:
            raise ValueError(
                f"{name}: {quantity!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)"
            ) from None
        if amount <= 0:
            raise ValueError(f"{name}: {quantity!r} must be more than zero")
        if "/" in name and amount != int(amount):
            raise ValueError(f"{name}: {quantity!r} must be a whole number (extended resource)")
    return value


def _address_template(value: str) -> str:
    import string

    fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    unknown = fields - _ADDRESS_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; known: {sorted(_ADDRESS_FIELDS)}"
        )
    if "index" not in fields and "index_port" not in fields:
        raise ValueError("must contain {index} or {index_port}: every worker needs its own")
    return value


class Toleration(Section):
    """A pod toleration (the Kubernetes field names)."""

    key: str | None = Field(default=None, description="taint key (none: every taint)")
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="Exists or Equal")
    value: str | None = Field(default=None, description="taint value (with Equal)")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="taint effect (none: every effect)"
    )


class KubernetesTrainConfig(Section):
    """`train.backend: kubernetes`: an Indexed Job of TensorFlow workers (docs/train.md)."""

    kubeconfig: str | None = Field(
        default=None, description="kubeconfig file (default: KUBECONFIG, ~/.kube/config)"
    )
    context: str | None = Field(default=None, description="kubeconfig context (default: current)")
    namespace: Annotated[str, _label(63)] = Field(
        default="default", description="namespace of the Job and its Service"
    )
    image: Annotated[str, AfterValidator(_pinned_image)] = Field(
        description="the project's training image, pinned by digest (name@sha256:...)"
    )
    workers: int = Field(default=2, ge=1, description="TensorFlow workers (worker 0 is the chief)")
    resources: Annotated[dict[str, str | int], AfterValidator(_quantities)] = Field(
        default_factory=dict,
        description="per worker, requests = limits: cpu, memory, nvidia.com/gpu (quantities)",
    )
    node_selector: dict[str, str] = Field(default_factory=dict, description="pod nodeSelector")
    pod_annotations: dict[str, str] = Field(
        default_factory=dict, description="annotations of the worker pods"
    )
    tolerations: list[Toleration] = Field(default_factory=list, description="pod tolerations")
    time_budget: Duration = Field(default=21600, description="the Job's activeDeadlineSeconds")
    no_progress_timeout: Duration = Field(
        default=900, description="fail when the chief logs no epoch (or start) for this long"
    )
    port: int = Field(default=2222, ge=1, le=65535, description="TensorFlow's gRPC port")
    worker_address: Annotated[str, AfterValidator(_address_template)] = Field(
        default="{job}-{index}.{service}.{namespace}.svc:{port}",
        description="each worker's TF_CONFIG address; placeholders job, index, service, "
        "namespace, port, index_port (port + index: workers sharing one host network)",
    )
    registry: str | None = Field(
        default=None,
        description="where the chief pushes the model (host[:port]/repo; default: "
        "package.registry)",
    )


class TrainConfig(Section):
    """How `ci-plugins train` finds and runs the user's model code (docs/train.md)."""

    entrypoint: Annotated[str, AfterValidator(_entrypoint)] = Field(
        default="model:build",
        description="module:function in the project, resolved next to ci-plugins.yaml; "
        "build(params) returns ci_plugins.training.TrainSpec",
    )
    epochs: int = Field(default=10, ge=1, description="training epochs (--epochs overrides)")
    batch_size: int = Field(default=32, ge=1, description="global batch size for (x, y) array data")
    seed: int = Field(default=0, ge=0, description="seeds Python, NumPy and TensorFlow")
    params: dict[str, Any] = Field(
        default_factory=dict, description="hyper-parameters passed to the entrypoint as a dict"
    )
    checkpoint_dir: str | None = Field(
        default=None,
        description="resume an interrupted run from here (relative to ci-plugins.yaml; "
        "--checkpoint-dir overrides); use a per-pipeline cache",
    )
    mixed_precision: bool = Field(
        default=False, description="mixed_float16 on GPUs (mixed_bfloat16 on CPUs)"
    )
    xla: bool = Field(default=False, description="compile the training step with XLA")
    require_gpu: bool = Field(
        default=False, description="fail (exit 3) when no GPU is visible instead of using the CPU"
    )
    tune: TuneConfig | None = Field(
        default=None, description="hyper-parameter search before the final fit (train.tune)"
    )
    backend: Literal["local", "kubernetes"] = Field(
        default="local",
        description="local: train on this runner; kubernetes: an Indexed Job of workers",
    )
    kubernetes: KubernetesTrainConfig | None = Field(
        default=None, description="the cluster, image and workers of backend: kubernetes"
    )

    @model_validator(mode="after")
    def _kubernetes_needs_its_section(self) -> TrainConfig:
        if self.backend == "kubernetes" and self.kubernetes is None:
            raise ValueError(
                "backend: kubernetes needs a train.kubernetes section (at least image)"
            )
        return self


class ChartConfig(Section):
    """The Helm chart rendered for every environment."""

    path: str | None = Field(
        default=None, description="chart directory; default: the chart shipped with ci-plugins"
    )
    values: dict[str, Any] = Field(default_factory=dict, description="the app's chart values")
    timeout: Seconds = Field(
        default=120, gt=0, description="seconds `helm template` may take before it is stopped"
    )


def _branch(value: str) -> str:
    problem = branch_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class RenderConfig(Section):
    """How `ci-plugins render` (and `validate`) check the rendered objects."""

    kubernetes_version: Annotated[str, Field(pattern=r"^v?\d+\.\d+(\.\d+)?$")] | None = Field(
        default=None,
        description="the clusters' Kubernetes minor version (e.g. '1.30'): every rendered "
        "object is checked against its OpenAPI schemas (unknown fields, wrong types); "
        "default: the newest version kubernetes-validate ships",
    )


class EnvRepoConfig(Section):
    """The environment repository that Argo CD or Flux syncs from."""

    url: str | None = Field(default=None, description="clone URL (https, ssh or a local path)")
    branch: Annotated[str, AfterValidator(_branch)] = Field(
        default="main", description="branch the GitOps controller watches"
    )
    forge: Literal["gitlab", "github"] | None = Field(
        default=None,
        description="where merge/pull requests are opened for environments with approval; "
        "default: inferred from the URL's host, else from the CI system",
    )
    api_url: str | None = Field(
        default=None,
        description="GitLab: the instance URL (default: CI_SERVER_URL or https://<host>); "
        "GitHub: the REST API root (default: GITHUB_API_URL or https://api.github.com)",
    )
    project: str | None = Field(
        default=None,
        description="GitLab project path or GitHub owner/repo; default: parsed from the URL",
    )
    push_attempts: int = Field(
        default=8,
        ge=1,
        le=50,
        description="how often promote/rollback push when others pushed first (each time "
        "re-applied on the new state, with jittered backoff) before failing with exit 3",
    )


class RolloutConfig(Section):
    """How a release reaches an environment's traffic (docs/rollout.md)."""

    strategy: Literal["replace", "canary"] = Field(
        default="replace",
        description="replace: the new release replaces the old one at once; canary: it "
        "runs as a candidate track next to the stable one, in steps judged by `analysis:`",
    )
    traffic: Literal["replicas", "gateway-api", "istio"] = Field(
        default="replicas",
        description="how a step's weight reaches requests: replicas (one Service over both "
        "tracks; the weight is the candidate's share of replicaCount), gateway-api (an "
        "HTTPRoute's backendRefs weights) or istio (a VirtualService's route weights); "
        "the chart's traffic.mode follows it (docs/rollout.md)",
    )
    steps: list[Annotated[int, Field(gt=0, le=100)]] = Field(
        default_factory=lambda: [10, 50, 100],
        description="candidate traffic percentages, increasing, ending at 100",
    )

    @model_validator(mode="after")
    def _steps_increase_to_100(self) -> RolloutConfig:
        if not self.steps:
            raise ValueError("steps: give at least one step, ending at 100")
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if after <= before:
                raise ValueError(f"steps must increase: {after} follows {before}")
        if self.steps[-1] != 100:
            raise ValueError(f"steps must end at 100, the last is {self.steps[-1]}")
        return self


class EnvironmentConfig(Section):
    """One deployment environment (dev, staging, prod...)."""

    namespace: EnvName | None = Field(default=None, description="Kubernetes namespace")
    values: dict[str, Any] = Field(
        default_factory=dict, description="chart values for this environment"
    )
    approval: Literal["merge-request"] | None = Field(
        default=None, description="merge-request: promote opens a merge/pull request"
    )
    rollout: RolloutConfig = Field(
        default_factory=RolloutConfig,
        description="how a new release reaches the pods: at once (replace) or in canary steps",
    )


class PackageConfig(Section):
    """How `ci-plugins package` publishes the model (OCI artifact or serving image)."""

    method: Literal["oci-artifact", "image"] = Field(
        default="oci-artifact",
        description="oci-artifact: push the SavedModel as an OCI artifact (no Docker needed); "
        "image: build and push a TensorFlow Serving image with the model (needs a Docker engine)",
    )
    registry: str | None = Field(
        default=None,
        description="repository to push to, host[:port]/path (--registry overrides); "
        "credentials: CI_PLUGINS_REGISTRY_USERNAME / CI_PLUGINS_REGISTRY_PASSWORD",
    )
    plain_http: bool | None = Field(
        default=None,
        description="talk plain HTTP to the registry; default: only for localhost/127.0.0.1",
    )
    base_image: str = Field(
        default="tensorflow/serving:2.14.1@sha256:"
        "fdc296e313fa4454173c5728fceda38f5d18cdb44c71a9f279ce61bc5818335e",
        description="method image: the TensorFlow Serving base image, pinned by digest",
    )


class ControllerConfig(Section):
    """The GitOps controller object that applies the environment repo (phase A)."""

    kind: Literal["argocd", "flux"] = Field(
        description="argocd: an Argo CD Application; flux: a Flux Kustomization"
    )
    name: str = Field(
        default="{app}-{env}",
        description="object name; {app} and {env} are replaced (default: {app}-{env})",
    )
    namespace: str | None = Field(
        default=None, description="its namespace (default: argocd, or flux-system for Flux)"
    )
    refresh: bool = Field(
        default=True,
        description="ask the controller to refresh now instead of waiting for its poll "
        "(needs patch on the object)",
    )
    require_auto_sync: bool = Field(
        default=False, description="fail when the Argo CD Application has no automated sync"
    )


class SmokeConfig(Section):
    """A predict request with golden inputs, compared with the expected outputs."""

    inputs: list[Any] = Field(description="the `instances` sent to :predict")
    expected: list[Any] = Field(description="the `predictions` expected back")
    tolerance: Annotated[float, AfterValidator(_finite)] = Field(
        default=1e-3, ge=0, description="largest allowed absolute difference per number"
    )


class ModelCheckConfig(Section):
    """TensorFlow Serving checks through the API server's service proxy."""

    enabled: bool | None = Field(
        default=None,
        description="check the model status (default: when the manifests carry "
        "ci-plugins.dev/model-version and a Service)",
    )
    service: str | None = Field(
        default=None, description="Service name (default: the Service in the manifests)"
    )
    port: str | None = Field(
        default=None, description="Service port name or number (default: http)"
    )
    name: str | None = Field(
        default=None, description="model name (default: --model_name of the serving container)"
    )
    smoke: SmokeConfig | None = Field(default=None, description="optional golden request")


class RuleThresholds(Section):
    """How long verify's rules tolerate each condition, and how much: the one definition
    of these thresholds and their defaults (docs/readiness.md). verify: holds them, and
    the pure rules read them from verify/readiness/policy.Policy, which extends this."""

    missing_grace: Seconds = Field(default=60, description="an object may be missing this long")
    spec_drift_grace: Seconds = Field(
        default=60, description="live pod template may differ from the commit this long"
    )
    replicafailure_grace: Seconds = Field(default=30, description="ReplicaFailure tolerated")
    image_pull_grace: Seconds = Field(default=180, description="slow/throttled image pulls")
    config_grace: Seconds = Field(default=30, description="CreateContainerConfigError tolerated")
    unschedulable_grace: Seconds = Field(default=120, description="Unschedulable, no scale-up")
    scale_up_grace: Seconds = Field(default=900, description="Unschedulable while scaling up")
    hpa_metrics_grace: Seconds = Field(default=120, description="HPA metric errors tolerated")
    app_condition_grace: Seconds = Field(default=60, description="Argo CD *Error conditions")
    unknown_grace: Seconds = Field(default=60, description="custom resource without a status")
    admission_failures_max: int = Field(
        default=3, ge=1, description="rejected new pods (OutOf*, Evicted...) before failing"
    )
    tolerate_oom_restarts: int = Field(default=0, ge=0, description="OOMKilled restarts allowed")
    fail_on_paused: bool = Field(default=True, description="a paused Deployment fails")
    require_terminated_old_pods: bool = Field(
        default=False, description="wait until old pods are gone (frees GPUs)"
    )


class VerifyConfig(RuleThresholds):
    """How `ci-plugins verify` decides rollout health (docs/readiness.md budgets and rules)."""

    controller: ControllerConfig | None = Field(
        default=None, description="the Argo CD Application or Flux Kustomization (phase A)"
    )
    timeout: Seconds = Field(default=1800, description="overall budget (--timeout overrides)")
    sync_timeout: Seconds = Field(default=600, description="budget for phase A (GitOps sync)")
    rollout_timeout: Seconds | None = Field(
        default=None,
        description="budget for phases B-D (default: max progressDeadlineSeconds + 120)",
    )
    resync_interval: Seconds = Field(default=10, description="full re-read besides the watch")
    progress_interval: Seconds = Field(default=5, description="a progress line this often")
    watch: bool = Field(default=True, description="watch the API (false: poll every resync)")
    model: ModelCheckConfig = Field(
        default_factory=ModelCheckConfig, description="TensorFlow Serving model checks"
    )


class MonitorMetric(Section):
    """One live-quality query and its bounds: a window breaks it below min or above max."""

    query: str = Field(
        min_length=1,
        description="PromQL; {window} becomes the window length (e.g. 3600s), {app}, {env} "
        "and {model_version} the release that runs; a bare metric name is averaged over "
        "each window (avg_over_time)",
    )
    min: Number | None = Field(default=None, description="degraded when the value is below this")
    max: Number | None = Field(default=None, description="degraded when the value is above this")

    @model_validator(mode="after")
    def _has_a_bound(self) -> MonitorMetric:
        if self.min is None and self.max is None:
            raise ValueError("give min and/or max")
        return self


class ViolationRule(Section):
    """Degraded when at least m of the last n windows break a bound."""

    m: int = Field(default=2, ge=1, description="windows that must break a bound")
    n: int = Field(default=3, ge=1, le=1000, description="windows looked at, newest first")

    @model_validator(mode="after")
    def _m_at_most_n(self) -> ViolationRule:
        if self.m > self.n:
            raise ValueError(f"m ({self.m}) must not exceed n ({self.n})")
        return self


TRIGGER_FIELDS: dict[str, tuple[str, ...]] = {
    "gitlab": ("project",),
    "github": ("repo", "workflow"),
    "jenkins": ("url", "job"),
}


class TriggerConfig(Section):
    """What `monitor` starts when the model degrades: the training pipeline of the model."""

    forge: Literal["gitlab", "github", "jenkins"] = Field(
        description="gitlab: pipeline trigger API; github: workflow_dispatch; "
        "jenkins: buildWithParameters"
    )
    project: str | None = Field(default=None, description="gitlab: project path or numeric id")
    repo: str | None = Field(default=None, description="github: owner/repo")
    workflow: str | None = Field(
        default=None, description="github: workflow file name (ml.yml) or id"
    )
    url: str | None = Field(
        default=None,
        description="gitlab: instance URL (default: CI_SERVER_URL or https://gitlab.com); "
        "github: API root (default: GITHUB_API_URL or https://api.github.com); "
        "jenkins: the Jenkins URL (required)",
    )
    job: str | None = Field(default=None, description="jenkins: job path, folders with /")
    ref: str = Field(default="main", description="gitlab/github: branch or tag to run")
    variables: dict[str, str] = Field(
        default_factory=dict,
        description="extra variables (GitLab), inputs (GitHub) or parameters (Jenkins); the "
        "monitor adds CI_PLUGINS_TRIGGER_REASON and friends (docs/monitor.md)",
    )

    @model_validator(mode="after")
    def _fields_of_forge(self) -> TriggerConfig:
        missing = [name for name in TRIGGER_FIELDS[self.forge] if not getattr(self, name)]
        if missing:
            names = " and ".join(missing)
            raise ValueError(f"forge {self.forge} needs {names}")
        return self


class MonitorConfig(Section):
    """`ci-plugins monitor`: retrain when the live model degrades (docs/monitor.md)."""

    prometheus: str | None = Field(
        default=None, description="Prometheus URL (--prometheus or CI_PLUGINS_PROMETHEUS override)"
    )
    window: Duration = Field(default=3600, description="length of one window")
    violations: ViolationRule = Field(
        default_factory=ViolationRule, description="degraded when m of the last n windows break"
    )
    cooldown: Duration = Field(
        default=86400, description="after a trigger, no other one for this long"
    )
    metrics: dict[str, MonitorMetric] = Field(
        default_factory=dict, description="live-quality queries with bounds"
    )
    trigger: TriggerConfig | None = Field(default=None, description="the retraining pipeline")


BUILTIN_ANALYSIS_METRICS: dict[str, str] = {
    "error_ratio": "share of TF Serving requests with status != OK",
    "latency_p50_ms": "median TF Serving request latency, ms",
    "latency_p99_ms": "99th percentile TF Serving request latency, ms",
    "load_failures": "failed SavedModel load attempts",
    "requests": "requests the track served",
    "load_rate": "generated load: achieved requests per second (after the warm-up)",
    "load_error_ratio": "generated load: share of non-2xx answers",
    "load_latency_p50_ms": "generated load: median latency seen by the client, ms",
    "load_latency_p99_ms": "generated load: 99th percentile latency seen by the client, ms",
}


class AnalysisBounds(Section):
    """Bounds for one analysis metric: absolute, and relative to the stable track."""

    min: Number | None = Field(default=None, description="fail when the value is below this")
    max: Number | None = Field(default=None, description="fail when the value is above this")
    max_ratio_to_stable: Annotated[float, AfterValidator(_finite), Field(gt=0)] | None = Field(
        default=None,
        description="fail when the candidate's value exceeds the stable track's times this",
    )

    @model_validator(mode="after")
    def _has_a_bound(self) -> AnalysisBounds:
        if self.min is None and self.max is None and self.max_ratio_to_stable is None:
            raise ValueError("give min, max and/or max_ratio_to_stable")
        return self


class AnalysisQuery(AnalysisBounds):
    """A custom PromQL query with bounds, evaluated once per track."""

    query: str = Field(
        min_length=1,
        description="PromQL; {selector} becomes the track's label matchers (namespace, app, "
        "track), {window} the window (e.g. 60s)",
    )


class LoadConfig(Section):
    """Generated load (hey at a constant rate) with golden requests."""

    rate: Annotated[float, AfterValidator(_finite), Field(gt=0, le=10000)] = Field(
        description="requests per second, all golden requests together"
    )
    requests: str = Field(
        min_length=1,
        description="file of golden requests, one JSON body (a :predict request) a line, "
        "relative to ci-plugins.yaml",
    )
    warmup: Duration = Field(
        default=5, description="load sent before the window starts, not counted"
    )
    timeout: Duration = Field(default=10, description="per-request timeout")


class AnalysisConfig(Section):
    """Live analysis of a track: `ci-plugins analyze` and canary steps (docs/rollout.md)."""

    prometheus: str | None = Field(
        default=None, description="Prometheus URL (CI_PLUGINS_PROMETHEUS overrides)"
    )
    window: Duration = Field(default=60, description="length of one analysis (per step)")
    min_requests: int = Field(
        default=50, ge=1, description="a track that served fewer requests: inconclusive"
    )
    load: LoadConfig | None = Field(default=None, description="optional generated load")
    metrics: dict[str, AnalysisBounds] = Field(
        default_factory=lambda: {"error_ratio": AnalysisBounds(max=0.01)},
        description="built-in metrics and bounds: " + ", ".join(BUILTIN_ANALYSIS_METRICS),
    )
    queries: dict[str, AnalysisQuery] = Field(
        default_factory=dict, description="custom PromQL queries and bounds"
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: dict[str, AnalysisBounds]) -> dict[str, AnalysisBounds]:
        unknown = sorted(set(metrics) - set(BUILTIN_ANALYSIS_METRICS))
        if unknown:
            problems = [
                f"unknown metric {name!r}{_did_you_mean(name, BUILTIN_ANALYSIS_METRICS)}"
                for name in unknown
            ]
            raise ValueError(
                "; ".join(problems)
                + " (built-in: "
                + ", ".join(BUILTIN_ANALYSIS_METRICS)
                + "; custom PromQL goes under analysis.queries)"
            )
        return metrics

    @model_validator(mode="after")
    def _no_name_twice(self) -> AnalysisConfig:
        clash = sorted(set(self.queries) & set(BUILTIN_ANALYSIS_METRICS))
        if clash:
            raise ValueError(f"queries {', '.join(clash)}: names of built-in metrics")
        return self


class Config(Section):
    """The whole ci-plugins.yaml."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, title="ci-plugins.yaml", defer_build=True
    )

    app: AppName
    train: TrainConfig = Field(default_factory=TrainConfig)
    gate: GatePolicy = Field(default_factory=GatePolicy)
    package: PackageConfig = Field(default_factory=PackageConfig)
    chart: ChartConfig = Field(default_factory=ChartConfig)
    render: RenderConfig = Field(default_factory=RenderConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    env_repo: EnvRepoConfig = Field(default_factory=EnvRepoConfig)
    environments: dict[EnvName, EnvironmentConfig] = Field(default_factory=dict)
    monitor: MonitorConfig | None = Field(default=None, description="retrain on degradation")
    analysis: AnalysisConfig | None = Field(
        default=None, description="live analysis: `analyze` and canary steps"
    )

    def environment(self, name: str) -> EnvironmentConfig:
        """The named environment; InputError (exit 2) naming the known ones otherwise."""
        if name not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none"
            raise InputError(
                f"unknown environment {name!r}: ci-plugins.yaml defines {known}",
                hint=f"add it under 'environments:'{_did_you_mean(name, self.environments)}",
            )
        return self.environments[name]


def load_config(path: Path) -> Config:
    """Read and validate the config file; raise InputError listing every problem."""
    data = load_yaml_mapping(path, what="config")
    return validate_model(Config, data, source=path)


def load_policy(path: Path) -> GatePolicy:
    """Read a policy file (the content of the config's `gate:` section)."""
    data = load_yaml_mapping(path, what="policy")
    return validate_model(GatePolicy, data, source=path)


def load_yaml_mapping(path: Path, *, what: str) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; InputError (exit 2) with the position."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{what} file {path} does not exist",
            hint="pass --config FILE or run from the project root" if what == "config" else None,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} file {path}: {exc}") from None
    try:
        data = safe_read.load(text)
    except safe_read.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of keys, got {_type_name(data)}")
    return data


def validate_model(model: type[M], data: Any, *, source: Path | str) -> M:
    """Validate data against model; InputError listing every problem with its key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(model, error) for error in exc.errors()]
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        raise InputError(f"{source} has {count} {noun}", problems=problems) from None


def _describe(model: type[BaseModel], error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if loc and loc[-1] == "[key]":  # a mapping key itself is wrong (environments: {../x: ...})
        parent = ".".join(str(part) for part in loc[:-2]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        return f"{parent}: key {message}"
    path = ".".join(str(part) for part in loc) or "(top level)"
    if kind == "literal_error":
        return f"{path}: expected {error['ctx']['expected']}, got {_show(value)}"
    if kind == "extra_forbidden":
        return f"{path}: unknown key{_did_you_mean(str(loc[-1]), _known_keys(model, loc[:-1]))}"
    if kind == "missing":
        return f"{path}: required key is missing"
    expected = _EXPECTED.get(kind)
    if expected:
        return f"{path}: expected {expected}, got {_show(value)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


_EXPECTED = {
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
}


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names valid at loc (walking nested models and dict values)."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = _inner_model(field.annotation) if field else None
        elif isinstance(current, tuple):  # dict[str, Model]: part is the key
            current = current[0]
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    origin = getattr(annotation, "__origin__", None)
    args: tuple[Any, ...] = tuple(getattr(annotation, "__args__", ()))
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if origin is None and len(models) == 1 and type(None) in args:  # Model | None
        return models[0]
    if origin is dict and len(args) == 2 and isinstance(args[1], type):
        return (args[1],)
    return annotation


def _did_you_mean(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return _type_name(value)
    return repr(value)


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)
