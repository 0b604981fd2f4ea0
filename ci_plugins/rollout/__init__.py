"""Canary rollouts: each step a commit (the two tracks rendered, the changes, the loop)."""
