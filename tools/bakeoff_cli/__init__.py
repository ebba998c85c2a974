"""The ``bakeoff`` command: offline runs, one-function invokes, the local API, and the CI trigger."""
