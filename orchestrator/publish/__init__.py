"""Publishing layers to AWS: each target's zip, as soon as it is ready, to every region the
workspace serves (S3 upload, content addressed, and a Lambda layer version only when the zip
changed), pruned and shared. boto3 is imported only here (and in building/buildcache/s3.py), and
only when a run publishes.

Stage 6. Enters: a target (stage 2) whose build is good (stage 5: its zip and stamp). Leaves: the
layer versions in AWS and their rows (ARNs) for the report.

    naming.py    templates and names: layer name, description record, S3 key (pure)
    owners.py    which target each version belongs to: names checked against AWS, what keep prunes
    aws.py       clients per region, calls off the event loop, botocore errors translated
    target.py    one target in one region: upload, version, share, prune
    publisher.py the run's publisher: regions, limits, the hook after each build

The `[tool.layerctl.publish]` table is declared with the other settings (core/publish_settings.py);
`layerctl publish` runs on the run skeleton (run/publish.py).
"""
