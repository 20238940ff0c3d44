"""Stage 2, planning: the targets (layers x Pythons x arches, their ids, the selection) and their
split into shards by expected cost.

Enters: the workspace (stage 1). Leaves: a ``targets.Plan`` of frozen ``Target`` s (pure).
"""
