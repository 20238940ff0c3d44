"""Stage 5, building one target: is it up to date (its input key against its stamp or a build
cache), which builder (``auto``), the executors that install its set into a tree, in-repo
projects as wheels, one attempt (``pipeline``) through resolve/ and package/, attempts and
retries (``target``), the target's log. (Named ``building/``: tools ignore a ``build/``
directory as output.)

Enters: a planned target (stage 2), its requirement set (stage 3), the steps of package/
(stage 4). Leaves: a typed outcome per attempt (``Built``, ``UpToDate``, ``Failed``) and the
target's report row (``TargetResult``), with its zip, tree and stamp in its output directory.
"""
