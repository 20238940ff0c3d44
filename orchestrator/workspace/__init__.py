"""Stage 1, the workspace: its root (found upward), its settings (TOML, ``LAYERCTL_*``, flags) and
its layer projects (discovery, the ``layers`` globs, a single project, uv workspaces, Poetry's
dependency tables, the indexes of each layer's tool).

Enters: a directory to start from. Leaves: the workspace's root and settings
(``config.WorkspaceConfig``) and its ``discovery.Layer`` s, read from TOML alone (no lock file,
no subprocess).
"""
