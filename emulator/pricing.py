"""Pay-as-you-go list prices of the ECS instance types the emulator can start.

The prices are illustrative: they are in the range of Alibaba Cloud's published
pay-as-you-go list prices in CNY for the China (Hangzhou) region, rounded, and they
are not a quote for any date. A regional multiplier scales them for other regions
(mainland regions in the north and west are cheaper, regions outside the mainland
cost more). They exist so that an attacker's GPU instances cost visibly more than the
account's usual instances in the emulated bills.

The hardware specifications (vCPUs, memory, GPUs) match the real instance types.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    """One ECS instance type: its hardware and its price in China (Hangzhou)."""

    name: str  # "ecs.g7.large"
    family: str  # "ecs.g7"
    cpu: int  # vCPUs
    memory_gib: float
    gpu_amount: int
    gpu_spec: str  # "" for types without a GPU
    base_hourly_price: float  # CNY per hour in cn-hangzhou


def _types(*rows: tuple[str, int, float, int, str, float]) -> dict[str, InstanceType]:
    table = {}
    for name, cpu, memory_gib, gpu_amount, gpu_spec, price in rows:
        # "ecs.gn6i-c4g1.xlarge" belongs to the family "ecs.gn6i".
        family = "ecs." + name.split(".")[1].split("-")[0]
        table[name] = InstanceType(
            name, family, cpu, memory_gib, gpu_amount, gpu_spec, price
        )
    return table


INSTANCE_TYPES: dict[str, InstanceType] = _types(
    # Burstable and general-purpose types that ordinary workloads use.
    ("ecs.t6-c1m1.large", 2, 2, 0, "", 0.12),
    ("ecs.t6-c1m2.large", 2, 4, 0, "", 0.18),
    ("ecs.t6-c1m4.large", 2, 8, 0, "", 0.30),
    ("ecs.c7.large", 2, 4, 0, "", 0.82),
    ("ecs.c7.xlarge", 4, 8, 0, "", 1.64),
    ("ecs.c7.2xlarge", 8, 16, 0, "", 3.28),
    ("ecs.g6.large", 2, 8, 0, "", 1.00),
    ("ecs.g6.xlarge", 4, 16, 0, "", 2.00),
    ("ecs.g7.large", 2, 8, 0, "", 1.10),
    ("ecs.g7.xlarge", 4, 16, 0, "", 2.20),
    ("ecs.g7.2xlarge", 8, 32, 0, "", 4.40),
    ("ecs.g7.4xlarge", 16, 64, 0, "", 8.80),
    ("ecs.r7.large", 2, 16, 0, "", 1.40),
    ("ecs.r7.xlarge", 4, 32, 0, "", 2.80),
    # GPU types, which is what attackers with a stolen key start for mining.
    ("ecs.gn5-c4g1.xlarge", 4, 30, 1, "NVIDIA P100", 12.00),
    ("ecs.gn6i-c4g1.xlarge", 4, 15, 1, "NVIDIA T4", 10.80),
    ("ecs.gn6i-c8g1.2xlarge", 8, 31, 1, "NVIDIA T4", 14.80),
    ("ecs.gn6i-c16g1.4xlarge", 16, 62, 1, "NVIDIA T4", 20.00),
    ("ecs.gn6i-c24g1.24xlarge", 96, 372, 4, "NVIDIA T4", 96.00),
    ("ecs.gn6v-c8g1.2xlarge", 8, 32, 1, "NVIDIA V100", 26.50),
    ("ecs.gn6v-c8g1.16xlarge", 64, 256, 8, "NVIDIA V100", 212.00),
    ("ecs.gn7i-c8g1.2xlarge", 8, 30, 1, "NVIDIA A10", 15.60),
    ("ecs.gn7i-c16g1.4xlarge", 16, 60, 1, "NVIDIA A10", 18.80),
    ("ecs.gn7i-c32g1.8xlarge", 32, 188, 1, "NVIDIA A10", 25.00),
    ("ecs.gn7-c12g1.3xlarge", 12, 94, 1, "NVIDIA A100", 35.00),
)

# Price relative to cn-hangzhou, by region ID.
REGION_PRICE_MULTIPLIERS: dict[str, float] = {
    "cn-qingdao": 0.95,
    "cn-beijing": 1.00,
    "cn-zhangjiakou": 0.90,
    "cn-huhehaote": 0.85,
    "cn-wulanchabu": 0.85,
    "cn-hangzhou": 1.00,
    "cn-shanghai": 1.00,
    "cn-shenzhen": 1.00,
    "cn-heyuan": 0.95,
    "cn-guangzhou": 1.00,
    "cn-chengdu": 0.95,
    "cn-hongkong": 1.40,
    "ap-northeast-1": 1.45,
    "ap-northeast-2": 1.40,
    "ap-southeast-1": 1.30,
    "ap-southeast-3": 1.25,
    "ap-southeast-5": 1.30,
    "ap-southeast-6": 1.35,
    "ap-southeast-7": 1.35,
    "us-east-1": 1.20,
    "us-west-1": 1.20,
    "eu-west-1": 1.35,
    "eu-central-1": 1.35,
    "me-east-1": 1.50,
    "me-central-1": 1.50,
}


def hourly_price(instance_type: str, region_id: str) -> float:
    """Return the pay-as-you-go price in CNY per hour, rounded to 0.01 CNY.

    Raises ``KeyError`` for an instance type or region that the tables lack.
    """
    base = INSTANCE_TYPES[instance_type].base_hourly_price
    multiplier = REGION_PRICE_MULTIPLIERS[region_id]
    return round(base * multiplier, 2)
