"""One module per step; each exposes Options and run(ctx, options) -> StepResult."""
