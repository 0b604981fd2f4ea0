"""Live analysis of a track: built-in TF Serving PromQL, generated load, verdicts, reports."""
