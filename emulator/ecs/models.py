"""The ECS backend: instances of one emulated account, created, listed, stopped and
released.

Instances live in ``Cloud.instances`` so that the BSS backend can bill them. A released
instance stays there with status ``Deleted`` and its ``deletion_time``, because its
charges remain on the bills; the ECS APIs no longer show it. State changes take effect
at once: a stopped instance is ``Stopped`` as soon as StopInstances returns, where the
real service passes through ``Stopping`` first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from emulator import pricing
from emulator.ecs.exceptions import (
    IncorrectInstanceStatus,
    InvalidInstanceIdNotFound,
    InvalidInstanceNameMalformed,
    InvalidInstanceTypeValueNotSupported,
    InvalidRegionIdNotFound,
    InvalidZoneIdNotFound,
)
from emulator.ecs.regions import REGIONS, Region
from emulator.errors import InvalidParameter
from emulator.state import Cloud, Instance

MAX_INSTANCES_PER_CALL = 100
# Instance names: 2 to 128 characters, starting with a letter or a Chinese character,
# then letters, digits, Chinese characters, periods, underscores, colons, commas and
# hyphens.
_INSTANCE_NAME = re.compile(r"^[A-Za-z\u4e00-\u9fa5][\w\u4e00-\u9fa5.:,-]{1,127}$")
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_LENGTH = 20  # characters after "i-", as in the real service


@dataclass
class LaunchSpec:
    """The parameters of a RunInstances request, parsed from the wire."""

    region_id: str
    instance_type: str
    image_id: str
    amount: int = 1
    instance_name: str | None = None
    unique_suffix: bool = False
    zone_id: str | None = None
    description: str = ""
    host_name: str | None = None
    security_group_ids: tuple[str, ...] = ()
    vswitch_id: str | None = None
    internet_max_bandwidth_out: int = 0
    tags: tuple[tuple[str, str], ...] = ()


@dataclass
class StopResult:
    """The outcome of stopping one instance, as StopInstances reports it."""

    instance_id: str
    previous_status: str
    current_status: str
    code: str = "200"
    message: str = "success"


class EcsBackend:
    """ECS operations on one ``Cloud``; callers must acquire ``Cloud.lock`` first."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    # Regions.

    def describe_regions(self) -> list[Region]:
        return list(REGIONS.values())

    def get_region(self, region_id: str) -> Region:
        region = REGIONS.get(region_id)
        if region is None:
            raise InvalidRegionIdNotFound(
                f"RegionId {region_id!r} is not an Alibaba Cloud region that this"
                " emulator offers; call DescribeRegions for the valid IDs, such as"
                " cn-hangzhou."
            )
        return region

    # Instances.

    def run_instances(
        self, spec: LaunchSpec, created_by_key: str, *, dry_run: bool = False
    ) -> list[Instance]:
        """Create ``spec.amount`` running pay-as-you-go instances.

        Every check runs before the first instance exists, so a failed call
        creates nothing. ``dry_run`` runs the checks and creates nothing.
        """
        region = self.get_region(spec.region_id)
        instance_type = pricing.INSTANCE_TYPES.get(spec.instance_type)
        if instance_type is None:
            known = ", ".join(sorted(pricing.INSTANCE_TYPES))
            raise InvalidInstanceTypeValueNotSupported(
                f"InstanceType {spec.instance_type!r} is not in the emulator's price"
                f" table; use one of: {known}."
            )
        if spec.zone_id is not None and spec.zone_id not in region.zone_ids:
            raise InvalidZoneIdNotFound(
                f"ZoneId {spec.zone_id!r} is not a zone of {region.region_id}; use one"
                f" of: {', '.join(region.zone_ids)}."
            )
        if not 1 <= spec.amount <= MAX_INSTANCES_PER_CALL:
            raise InvalidParameter(
                "Amount",
                f"Expected 1 to {MAX_INSTANCES_PER_CALL} instances, got {spec.amount}.",
            )
        if spec.instance_name is not None:
            _check_instance_name(spec.instance_name, spec.unique_suffix)
        if dry_run:
            return []

        price = pricing.hourly_price(instance_type.name, region.region_id)
        now = self.cloud.now()
        created = []
        for index in range(spec.amount):
            number = self.cloud.next_id()
            instance_id = self._new_instance_id(region, number)
            created.append(
                Instance(
                    instance_id=instance_id,
                    region_id=region.region_id,
                    instance_type=instance_type.name,
                    image_id=spec.image_id,
                    instance_name=_instance_name(spec, instance_id, index),
                    creation_time=now,
                    created_by_key=created_by_key,
                    hourly_price=price,
                    zone_id=spec.zone_id or region.zone_ids[0],
                    attributes=_network_attributes(spec, region, number),
                )
            )
        for instance in created:
            self.cloud.instances[instance.instance_id] = instance
        return created

    def describe_instances(
        self,
        region_id: str,
        *,
        instance_ids: list[str] | None = None,
        status: str | None = None,
        instance_name: str | None = None,
        instance_type: str | None = None,
        zone_id: str | None = None,
    ) -> list[Instance]:
        """Return the region's unreleased instances that match every given filter,
        oldest first.

        Unknown IDs in ``instance_ids`` match nothing, as in the real API; an empty
        list returns no instances.
        """
        self.get_region(region_id)
        name_pattern = _wildcard(instance_name) if instance_name else None
        matches = []
        for instance in self._live_instances(region_id):
            if instance_ids is not None and instance.instance_id not in instance_ids:
                continue
            if status is not None and instance.status != status:
                continue
            if instance_type is not None and instance.instance_type != instance_type:
                continue
            if zone_id is not None and instance.zone_id != zone_id:
                continue
            if name_pattern and not name_pattern.fullmatch(instance.instance_name):
                continue
            matches.append(instance)
        return matches

    def delete_instances(
        self,
        region_id: str | None,
        instance_ids: list[str],
        *,
        force: bool,
        dry_run: bool = False,
    ) -> list[Instance]:
        """Release instances; all of them, or none if any check fails.

        Without ``force`` every instance must be ``Stopped``. ``region_id=None``
        (DeleteInstance) accepts an instance in any region. ``dry_run`` runs the
        checks and releases nothing.
        """
        instances = self._find_all(region_id, instance_ids)
        if not force:
            for instance in instances:
                if instance.status != "Stopped":
                    raise IncorrectInstanceStatus(
                        f"Instance {instance.instance_id} is {instance.status}; stop it"
                        " first with StopInstances, or pass Force=true to release a"
                        " running instance."
                    )
        if dry_run:
            return instances
        now = self.cloud.now()
        for instance in instances:
            instance.status = "Deleted"
            instance.deletion_time = now
        return instances

    def stop_instances(
        self,
        region_id: str | None,
        instance_ids: list[str],
        *,
        all_together: bool,
        stopped_mode: str = "KeepCharging",
        dry_run: bool = False,
    ) -> list[StopResult]:
        """Stop running instances.

        With ``all_together`` (BatchOptimization ``AllTogether``, the default) one
        instance that is not ``Running`` fails the whole call and nothing stops.
        Otherwise (``SuccessFirst``) each instance succeeds or fails on its own.
        ``dry_run`` runs the checks and stops nothing.
        """
        instances = self._find_all(region_id, instance_ids)
        if all_together:
            for instance in instances:
                if instance.status != "Running":
                    raise IncorrectInstanceStatus(
                        f"Instance {instance.instance_id} is {instance.status}; only"
                        " Running instances can be stopped."
                    )
        if dry_run:
            return []
        results = []
        for instance in instances:
            if instance.status != "Running":
                results.append(
                    StopResult(
                        instance.instance_id,
                        previous_status=instance.status,
                        current_status=instance.status,
                        code=IncorrectInstanceStatus.code,
                        message=IncorrectInstanceStatus.message,
                    )
                )
                continue
            instance.status = "Stopped"
            # NOTE: billing goes on in both modes; the real StopCharging mode stops
            # the compute charges of a stopped instance.
            instance.attributes["StoppedMode"] = stopped_mode
            # The real service reports "Stopping" here and reaches "Stopped" later.
            results.append(StopResult(instance.instance_id, "Running", "Stopping"))
        return results

    # Helpers.

    def _live_instances(self, region_id: str | None) -> list[Instance]:
        instances = [
            instance
            for instance in self.cloud.instances.values()
            if instance.status != "Deleted"
            and (region_id is None or instance.region_id == region_id)
        ]
        # A stable sort keeps the creation order of instances created together.
        instances.sort(key=lambda instance: instance.creation_time)
        return instances

    def _find_all(
        self, region_id: str | None, instance_ids: list[str]
    ) -> list[Instance]:
        if region_id is not None:
            self.get_region(region_id)
        if not 1 <= len(instance_ids) <= MAX_INSTANCES_PER_CALL:
            raise InvalidParameter(
                "InstanceId",
                f"Expected 1 to {MAX_INSTANCES_PER_CALL} instance IDs, got"
                f" {len(instance_ids)}.",
            )
        found = []
        for instance_id in instance_ids:
            instance = self.cloud.instances.get(instance_id)
            if instance is None or instance.status == "Deleted":
                raise InvalidInstanceIdNotFound(
                    f"Instance {instance_id!r} does not exist or was released; call"
                    " DescribeInstances to list the current instances."
                )
            if region_id is not None and instance.region_id != region_id:
                raise InvalidInstanceIdNotFound(
                    f"Instance {instance_id!r} is in {instance.region_id}, not in"
                    f" {region_id}; call the API with RegionId={instance.region_id}."
                )
            found.append(instance)
        return found

    def _new_instance_id(self, region: Region, number: int) -> str:
        """Build an ID such as ``i-bp1…`` that is stable for a given scenario."""
        digest = hashlib.sha256(f"{self.cloud.account_id}/{number}".encode()).digest()
        suffix_length = _ID_LENGTH - len(region.instance_id_prefix)
        suffix = "".join(_ID_ALPHABET[byte % 36] for byte in digest[:suffix_length])
        return f"i-{region.instance_id_prefix}{suffix}"


def _check_instance_name(name: str, unique_suffix: bool) -> None:
    longest = 125 if unique_suffix else 128
    if not _INSTANCE_NAME.fullmatch(name) or len(name) > longest:
        raise InvalidInstanceNameMalformed(
            f"InstanceName {name!r} must be 2 to {longest} characters, start with a"
            " letter and contain only letters, digits, '.', '_', ':', ',' and '-'."
        )


def _instance_name(spec: LaunchSpec, instance_id: str, index: int) -> str:
    if spec.instance_name is None:
        return instance_id
    if spec.unique_suffix and spec.amount > 1:
        return f"{spec.instance_name}{index + 1:03d}"
    return spec.instance_name


def _network_attributes(spec: LaunchSpec, region: Region, number: int) -> dict:
    """Derive the settings DescribeInstances shows from the request and a counter.

    Private addresses come from 172.16.0.0/12 and public ones from the documentation
    range 203.0.113.0/24, so no emulated address belongs to a real host.
    """
    token = hashlib.sha256(f"{region.region_id}/{number}".encode()).hexdigest()
    private_ip = f"172.16.{(number // 250) % 250}.{number % 250 + 2}"
    attributes: dict = {
        "Description": spec.description,
        "HostName": spec.host_name or f"iZ{token[:22]}Z",
        "VpcId": f"vpc-{region.instance_id_prefix}{token[:17]}",
        "VSwitchId": spec.vswitch_id
        or f"vsw-{region.instance_id_prefix}{token[17:34]}",
        "SecurityGroupIds": list(spec.security_group_ids)
        or [f"sg-{region.instance_id_prefix}{token[34:51]}"],
        "PrivateIpAddress": private_ip,
        "PublicIpAddress": [],
        "InternetMaxBandwidthOut": spec.internet_max_bandwidth_out,
        "NetworkInterfaceId": f"eni-{region.instance_id_prefix}{token[51:64]}",
        "MacAddress": "00:16:3e:" + ":".join(token[i : i + 2] for i in (0, 2, 4)),
        "SerialNumber": f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}"
        f"-{token[20:32]}",
        "StoppedMode": "Not-applicable",
        "Tags": [{"TagKey": key, "TagValue": value} for key, value in spec.tags],
    }
    if spec.internet_max_bandwidth_out > 0:
        attributes["PublicIpAddress"] = [f"203.0.113.{number % 254 + 1}"]
    return attributes


def _wildcard(pattern: str) -> re.Pattern[str]:
    """Compile an InstanceName filter in which ``*`` matches any characters."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
