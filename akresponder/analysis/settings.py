"""Thresholds, baselines and allow-lists for the investigation library.

Each detection threshold's default comes from a published detection rule, named in the
field's description. Defaults that no published rule fixes (baseline lengths, lineage
limits) state that and give the reason for the value.
"""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class AnalysisSettings(BaseModel):
    """Settings for event normalisation, detectors, lineage and billing analysis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Baselines and allow-lists.
    baseline_days: int = Field(
        default=90,
        ge=1,
        description=(
            "Days before the incident window that form the baseline of regions, IPs "
            "and user agents. 90 is how long ActionTrail keeps events without a "
            "trail, so a longer baseline cannot be fetched through LookupEvents."
        ),
    )
    incident_start_min_history_days: int = Field(
        default=7,
        ge=0,
        description=(
            "Days of a compromised key's history that must come before a call with "
            "a new source IP, region or user agent can mark the estimated start of "
            "the incident. No published rule fixes this; 7 days cover one weekly "
            "cycle of the owner's ordinary use."
        ),
    )
    allowed_cidrs: tuple[str, ...] = Field(
        default=(),
        description=(
            "Source networks that are never reported as unknown, for example the "
            "office NAT range ('203.0.113.0/24'). IPv4 and IPv6 are accepted."
        ),
    )
    allowed_regions: tuple[str, ...] = Field(
        default=(),
        description="Region ids (such as 'cn-hangzhou') never reported as unusual.",
    )
    allowed_user_agent_prefixes: tuple[str, ...] = Field(
        default=(),
        description=(
            "User-agent prefixes never reported as new, compared case-insensitively "
            "(for example 'aliyun-sdk-java/')."
        ),
    )

    # permission_error_burst
    permission_error_window_minutes: int = Field(
        default=10,
        ge=1,
        description=(
            "Sliding window for denied calls. Palo Alto Cortex XSIAM's ActionTrail "
            "correlation rule (demisto/content, AlibabaActionTrail_Correlation.yml) "
            "uses 10 minutes per user, source IP and user type."
        ),
    )
    permission_error_min_count: int = Field(
        default=6,
        ge=1,
        description=(
            "Denied calls within the window that make a burst. The Cortex XSIAM rule "
            "fires on more than 5, so the default is 6."
        ),
    )

    # console_login (failed sign-ins)
    failed_login_window_minutes: int = Field(
        default=30,
        ge=1,
        description=(
            "Window for failed console sign-ins. Alibaba Cloud's landing-zone SLS "
            "alert cis_at_abnormal_login (aliyun/alibabacloud-landing-zone) counts "
            "30 minutes per user."
        ),
    )
    failed_login_min_count: int = Field(
        default=6,
        ge=1,
        description=(
            "Failed sign-ins within the window that make a finding; the landing-zone "
            "rule fires on more than 5."
        ),
    )

    # enumeration_burst
    enumeration_bucket_seconds: int = Field(
        default=10,
        ge=1,
        description=(
            "Time bucket for discovery calls. Elastic's prebuilt rule 'AWS Discovery "
            "API Calls via CLI from a Single Resource' truncates time to 10 seconds."
        ),
    )
    enumeration_min_distinct_actions: int = Field(
        default=6,
        ge=1,
        description=(
            "Distinct Describe/Get/List/Generate actions by one identity in one bucket "
            "that make a burst. The Elastic rule fires on more than 5."
        ),
    )

    # secrets_read
    secrets_bulk_window_minutes: int = Field(
        default=6,
        ge=1,
        description=(
            "Window for bulk secret reads: the 6-minute look-back of Elastic's "
            "prebuilt rule 'AWS Secrets Manager Rapid Secrets Retrieval'."
        ),
    )
    secrets_bulk_min_distinct: int = Field(
        default=20,
        ge=1,
        description=(
            "Distinct secrets read by one identity within the window that raise a "
            "secrets_read finding to high severity. The Elastic rule uses 20."
        ),
    )

    # billing_anomaly
    billing_baseline_days: int = Field(
        default=30,
        ge=1,
        description=(
            "Days of spend before the incident that form the billing baseline. No "
            "published rule fixes this; 30 days covers four weekly cycles."
        ),
    )
    billing_min_baseline_days: int = Field(
        default=7,
        ge=1,
        description=(
            "Fewest baseline days with spend needed before spikes are scored. Not from "
            "a published rule: a median and MAD over less than one week say little."
        ),
    )
    billing_spike_z: float = Field(
        default=3.5,
        gt=0,
        description=(
            "Modified z-score above which a day's spend is a spike. Iglewicz and "
            "Hoaglin (1993, 'How to Detect and Handle Outliers') recommend labelling "
            "modified z-scores above 3.5 as potential outliers."
        ),
    )

    billing_spike_min_ratio: float = Field(
        default=1.5,
        ge=1,
        description=(
            "Times the baseline median that a day's spend must also reach to be a "
            "spike. Not from a published rule: near-constant spend has a tiny MAD, "
            "so without this a few cents above the median score as an outlier."
        ),
    )

    # lineage
    lineage_max_depth: int = Field(
        default=5,
        ge=0,
        description=(
            "Generations of derived credentials whose activity is read; credentials "
            "found one generation further are listed but not followed. A bound on "
            "work, not a detection threshold."
        ),
    )
    lineage_max_nodes: int = Field(
        default=5000,
        ge=1,
        description="Nodes after which the lineage walk stops and is marked truncated.",
    )

    # output size
    max_event_ids_per_finding: int = Field(
        default=500,
        ge=1,
        description=(
            "Event ids kept in one finding; the finding's evidence always states the "
            "full count."
        ),
    )

    @field_validator("allowed_cidrs")
    @classmethod
    def _check_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"allowed_cidrs contains {cidr!r}, which is not an IP network; "
                    "write it as an address or CIDR such as '203.0.113.0/24'"
                ) from None
        return value

    @model_validator(mode="after")
    def _check_billing_days(self) -> Self:
        if self.billing_min_baseline_days > self.billing_baseline_days:
            raise ValueError(
                f"billing_min_baseline_days ({self.billing_min_baseline_days}) is "
                f"larger than billing_baseline_days ({self.billing_baseline_days}); "
                "lower the first or raise the second"
            )
        return self

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """Return ``allowed_cidrs`` parsed as networks."""
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.allowed_cidrs]
