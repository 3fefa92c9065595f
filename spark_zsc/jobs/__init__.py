"""The command line and the jobs: `classify` and `evaluate`, their options, input/output,
and the evaluation's metrics and report."""
