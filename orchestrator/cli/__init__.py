"""Stage 9, the command line: typer wiring (``app``, commands made when used by ``lazycli``),
each command's flags from the settings' declarations (``options``), the invocation (workspace,
plan, shard) and the boundary (one line and a documented exit code for every error).

Enters: argv and the environment. Leaves: the exit code. ``orchestrator/__main__.py`` stays at
the top: it answers ``--version`` before anything here is imported.
"""
