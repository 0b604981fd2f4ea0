"""LOCAL CLUSTER EMULATOR for tests and the demo: not part of the product's normal path.

An in-memory Kubernetes API (kmock's KubernetesEmulator over HTTP on 127.0.0.1) with the
controllers and Argo CD's sync (simulator.py, argocd.py, syncing.py), a kubelet that runs
pods as local processes (kubelet.py, pods.py, containers.py, probes.py, volumes.py,
images.py), the TensorFlow-Serving-compatible server (tfserving/), the oras puller
(orascli.py) and the platform services `up` starts (localplatform.py: docker-registry and
Prometheus). Nothing in ci_plugins imports this package.
"""

LABEL = "[LOCAL CLUSTER EMULATOR]"
