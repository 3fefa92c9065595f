"""The command line and the jobs: `classify` (with `--stream` and `--estimate`) and its
options, and the `evaluate` package."""
