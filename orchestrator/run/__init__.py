"""Stage 8, the commands over targets: the one run skeleton (``skeleton``: start-up checks, run
lock, signals, event pipe, fan-out, report), ``build-all``/``build`` (``builds``, ``scheduler``),
``publish``, ``verify``, and the commands that read a plan without building (``explain``,
``matrix``, ``clean``).

Enters: a plan (stage 2) and the command's flags. Leaves: the run's outcome (its rows, the
report written, the exit code).
"""
