"""Live-quality monitoring: windows read from Prometheus, the "m of n" rule, the decision
record in the environment repo, and the reports (used by `ci-plugins monitor`)."""
