"""Adapters to outside systems: git, helm, Kubernetes, registries, forges."""
