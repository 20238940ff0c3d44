"""Stage 4, a built tree made into a layer: console scripts and RECORDs fixed, ELF checks,
bytecode, what takes the room, and the deterministic zip.

Enters: a target (stage 2) and the tree its installer filled. Leaves: the checked tree and
``layer.zip`` with its ``ZipResult``. Each step is a function on a tree; ``building/`` calls them.
"""
