"""LOCAL CLUSTER EMULATOR for tests and the demo: not part of the product's normal path.

An in-memory Kubernetes API (kmock's KubernetesEmulator over HTTP on 127.0.0.1) plus a
simulator that plays Argo CD (applies an environment repo's manifests), the Deployment and
ReplicaSet controllers, the kubelet and TensorFlow Serving's model status endpoint. Nothing
in ci_plugins imports this package except its own entry point and the tests.
"""

LABEL = "[LOCAL CLUSTER EMULATOR]"
