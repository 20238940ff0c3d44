"""The publisher of a run: the publish settings of each layer, its regions, every name checked
and credentials found before anything is built or sent; then, for each target whose zip is
ready, every region at once (clients and call limits per region, ``aws.py``)."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError, PublishError
from ..core.events import Emit, Published, PublishResult, TargetResult
from ..core.fanout import fan_out
from ..core.once import Once
from ..core.publish_settings import PublishSettings
from ..plan.targets import Plan, Target
from .aws import Aws
from .naming import check_names, settings_for
from .owners import check_owners
from .target import Zip, publish_to_region

__all__ = ["Publisher"]


class Publisher:
    def __init__(self, aws: Aws, settings: dict[str, PublishSettings], regions: dict[str, tuple[str, ...]]):
        self.aws = aws
        self.settings = settings  # by layer name
        self.regions = regions  # by layer name
        self.buckets: Once[str] = Once()  # each (region, bucket) checked once per run

    @classmethod
    async def open(cls, plan: Plan) -> Publisher:
        """Raises ConfigError (a name AWS would refuse, two targets under one layer name, a name
        holding another target's versions, no region) or PublishError (no credentials, AWS
        refused the listing) before the run builds or sends anything."""
        aws = await Aws.open()
        settings: dict[str, PublishSettings] = {}
        regions: dict[str, tuple[str, ...]] = {}
        for target in plan.targets:
            layer = target.layer
            if layer.name in settings:
                continue
            chosen = settings[layer.name] = settings_for(plan.workspace.publish, layer.publish)
            regions[layer.name] = chosen.regions or ((aws.default_region,) if aws.default_region else ())
            if not regions[layer.name]:
                raise ConfigError(
                    f"{layer.name}: no region to publish to: set [tool.layerctl.publish] regions, "
                    "or the AWS SDK's region (AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE's region)"
                )
        # the whole publish set at once: `build-all --publish` publishes each target as it is ready
        claimed = check_names((t, settings[t.layer.name], regions[t.layer.name]) for t in plan.targets)
        everywhere = sorted({region for names in regions.values() for region in names})
        await aws.check_credentials(f"publish to {', '.join(everywhere)}")
        templates = {t.id: settings[t.layer.name].layer_name for t in plan.targets}
        await check_owners(aws, claimed, templates)
        return cls(aws, settings, regions)

    async def publish(self, target: Target, made: Zip) -> list[PublishResult]:
        """The target's zip in every region of its layer (at once); one result per region."""
        regions = self.regions[target.layer.name]
        settings = self.settings[target.layer.name]

        async def one(region: str) -> PublishResult:
            return await publish_to_region(self.aws, self.buckets, target, settings, made, region)

        fanned = await fan_out(regions, one, limiter=len(regions), name=lambda r: f"{target.id}@{r}")
        return [fanned.results[i] for i in range(len(regions))]

    async def after_build(self, target: Target, result: TargetResult, emit: Emit) -> TargetResult:
        """The scheduler's hook: publish a good build's zip, in the target's own task."""
        if not (result.zip_path and result.sha256 and result.zipped_size is not None):
            raise PublishError(f"{target.id}: the build reported no zip to publish")  # a bug, not AWS
        made = Zip(Path(result.zip_path), result.sha256, result.zipped_size)
        published = await self.publish(target, made)
        await emit(Published(target.id, tuple(published)))
        return result.model_copy(update={"publish": published})
