"""TF Serving's --monitoring_config_file: an ascii MonitoringConfig protobuf.

The message is tensorflow_serving/config/monitoring_config.proto, built here from its
descriptor so protobuf's own text-format parser reads the file (commas, comments and
quoting as TF Serving accepts them). A file that does not parse fails the start with
TF Serving's `Invalid protobuf file: '<file>'` (util/proto_util.h).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
)

from .status import ServingError

# PrometheusExporter::kPrometheusPath (util/prometheus_exporter.cc).
DEFAULT_PATH = "/monitoring/prometheus/metrics"


@dataclass(frozen=True)
class Monitoring:
    """Where the server exposes Prometheus metrics (None: not exposed)."""

    prometheus_path: str | None


def _message_class() -> type:
    proto = descriptor_pb2.FileDescriptorProto(
        name="ci_plugins_emulator/monitoring_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
    )
    prometheus = proto.message_type.add(name="PrometheusConfig")
    field = descriptor_pb2.FieldDescriptorProto
    prometheus.field.add(name="enable", number=1, type=field.TYPE_BOOL, label=field.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    config = proto.message_type.add(name="MonitoringConfig")
    config.field.add(
        name="prometheus_config",
        number=1,
        type=field.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PrometheusConfig",
        label=field.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
    message_class: type = message_factory.GetMessageClass(descriptor)
    return message_class


MonitoringConfig = _message_class()


def read_monitoring_config(path: str) -> Monitoring:
    """The metrics path a monitoring config file asks for; raises ServingError if unreadable."""
    if not path:
        return Monitoring(prometheus_path=None)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ServingError("NOT_FOUND", f"{path}; {exc.strerror}") from exc
    config = MonitoringConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ServingError("INVALID_ARGUMENT", f"Invalid protobuf file: '{path}'") from exc
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return Monitoring(prometheus_path=None)
    return Monitoring(prometheus_path=prometheus.path or DEFAULT_PATH)
