"""Estimate when a compromise started, from the compromised keys' own history.

A response usually starts without a known compromise time. The detectors need one:
events before it form the baseline, events after it are suspect. Treating the whole
look-back window as suspect would flag the owner's ordinary writes, so
``estimate_incident_start`` looks for the first call that breaks with the key's
earlier use.

The rule: walk the seed keys' events in time order and keep the source IPs, regions
and user agents already seen. After ``incident_start_min_history_days`` of history,
the first call with a value never seen before marks the start. Service hostnames
(a cloud service calling for the user) and global services' regions do not count,
and neither do values in the allow-lists. With too little history, or with nothing
new, the start falls back to ``fallback``, the start of the look-back window, so
nothing in the window is left out.

NOTE: an attacker who reuses the owner's IP, region and client is not found by this
rule; their calls before a later novelty become baseline. Pass the alert time as the
incident start when it is known.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from akresponder.analysis.settings import AnalysisSettings

_ADDRESS_KINDS = ("ipv4", "ipv6", "invalid")


@dataclass(frozen=True)
class IncidentStart:
    """The chosen start of the incident window and why it was chosen."""

    start: datetime
    estimated: bool  # True when a novel call marks the start
    reason: str
    event_id: str = ""
    values: tuple[tuple[str, str], ...] = ()  # (column, novel value) of that call

    def to_dict(self) -> dict[str, Any]:
        """Return the estimate as JSON-ready data."""
        return {
            "start": self.start.isoformat(),
            "estimated": self.estimated,
            "reason": self.reason,
            "event_id": self.event_id,
            "novel_values": {column: value for column, value in self.values},
        }


def estimate_incident_start(
    events: pd.DataFrame,
    seed_keys: str | Iterable[str],
    *,
    fallback: datetime,
    settings: AnalysisSettings | None = None,
) -> IncidentStart:
    """Return the first call of ``seed_keys`` that differs from their earlier use.

    ``events`` is a normalised frame holding the seed keys' history; other rows are
    ignored. ``fallback`` (aware), the start of the look-back window, is returned
    when the keys have less than ``incident_start_min_history_days`` of history or
    no value is used for the first time inside the look-back window. The estimate is
    never earlier than ``fallback``, because history before the look-back window is
    baseline by definition.
    """
    if fallback.tzinfo is None:
        raise ValueError(
            f"fallback {fallback.isoformat()} has no time zone; pass an aware "
            "datetime such as datetime(..., tzinfo=UTC)"
        )
    settings = settings or AnalysisSettings()
    keys = {seed_keys} if isinstance(seed_keys, str) else set(seed_keys)
    own = events.loc[events["access_key_id"].isin(keys)]
    if own.empty:
        return IncidentStart(
            fallback,
            False,
            "the compromised key has no events, so the whole look-back window is "
            "the incident window",
        )
    own = own.sort_values("time", kind="stable")
    first = own["time"].iat[0]
    history_days = settings.incident_start_min_history_days
    settled = first + pd.Timedelta(days=history_days)
    if own["time"].iat[-1] < settled:
        return IncidentStart(
            fallback,
            False,
            f"the compromised key has less than {history_days} days of history "
            f"(first call {first.isoformat()}), so its ordinary use is unknown and "
            "the whole look-back window is the incident window",
        )

    # Only a value first used inside the look-back window, after the key's first
    # days, marks the start. Older novelties are part of its ordinary use.
    threshold = max(settled, pd.Timestamp(fallback).tz_convert(UTC))
    novel = pd.Series(False, index=own.index)
    novel_column = pd.Series("", index=own.index)
    for column, candidates in _candidates(own, settings).items():
        values = own[column]
        # A value is new at the first row where it appears.
        first_use = ~values.duplicated(keep="first")
        hit = first_use & candidates & (own["time"] >= threshold) & ~novel
        novel |= hit
        novel_column = novel_column.where(~hit, column)
    if not novel.any():
        return IncidentStart(
            fallback,
            False,
            "no call of the compromised key in the look-back window came from a "
            "source IP, region or user agent it had not used before, so the whole "
            "look-back window is the incident window",
        )
    row = own.loc[novel].iloc[0]
    moment = row["time"].to_pydatetime().astimezone(UTC)
    same_time = own.loc[novel & (own["time"] == row["time"])]
    values = tuple(
        (str(novel_column[index]), str(own.at[index, str(novel_column[index])]))
        for index in same_time.index
    )
    listed = ", ".join(f"{column} {value}" for column, value in values)
    return IncidentStart(
        moment,
        True,
        f"first call of the compromised key with a value it had not used before: "
        f"{listed} at {moment.isoformat()} (event {row['event_id']})",
        event_id=str(row["event_id"]),
        values=values,
    )


def _candidates(own: pd.DataFrame, settings: AnalysisSettings) -> dict[str, pd.Series]:
    """Mark the rows whose source IP, region or user agent may count as new."""
    networks = settings.networks()
    allowed_ips = {
        value: _in_networks(value, networks) for value in own["source_ip"].unique()
    }
    ips = own["source_ip_kind"].isin(_ADDRESS_KINDS) & ~own["source_ip"].map(
        allowed_ips
    ).astype(bool)
    regions = (
        ~own["is_global"]
        & (own["region"] != "")
        & ~own["region"].isin(settings.allowed_regions)
    )
    prefixes = tuple(prefix.lower() for prefix in settings.allowed_user_agent_prefixes)
    agents = own["user_agent"] != ""
    if prefixes:
        agents &= ~own["user_agent"].str.lower().str.startswith(prefixes)
    return {"source_ip": ips, "region": regions, "user_agent": agents}


def _in_networks(value: str, networks: list[Any]) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(
        address.version == network.version and address in network
        for network in networks
    )
