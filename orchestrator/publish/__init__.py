"""Publishing layers to AWS: each target's zip, as soon as it is ready, to every region the
workspace serves (S3 upload, content addressed, and a Lambda layer version only when the zip
changed), pruned and shared. boto3 is imported only here, and only when a run publishes.

    settings.py  the `[tool.layerctl.publish]` table (workspace; a layer may override)
    naming.py    templates and names: layer name, description record, S3 key (pure)
    owners.py    which target each version belongs to: names checked against AWS, what keep prunes
    aws.py       clients per region, calls off the event loop, botocore errors translated
    target.py    one target in one region: upload, version, share, prune
    publisher.py the run's publisher: regions, limits, the hook after each build
    command.py   `layerctl publish`: what the last good builds produced
"""
