"""Rollout readiness rules (docs/readiness.md): pure functions on Kubernetes objects as dicts.

`evaluate.evaluate_all` applies phases B, C and D to a snapshot of the cluster;
`gitops` holds phase A. No I/O here: the verify step feeds snapshots from the adapter.
"""
