"""Stage 0, the foundations every stage shares: the error hierarchy, the settings' declarations,
files layerctl owns, subprocesses, events, the fan-out and signals, secrets and uv's rules.

Enters: nothing of layerctl's (the environment, files, subprocesses). Leaves: types and helpers
for every later stage. A module here imports only modules here.
"""
