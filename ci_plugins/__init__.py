"""ci-plugins: GitOps CI/CD plugins for ML models."""

__version__ = "0.1.0"
