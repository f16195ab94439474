"""Property tests for the alert parsers: any input, secrets, key discovery."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from akresponder.alerts import AlertedKey, AlertFormatError, AlertIgnored, parse_alert
from akresponder.config import validate_access_key_id

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
KEY_IDS = st.text(ALNUM, min_size=20, max_size=20).map(lambda tail: "LTAI" + tail)
SECRETS = st.text(ALNUM, min_size=30, max_size=30).map(lambda tail: "zz" + tail)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _outcome(payload: object) -> list[AlertedKey] | Exception:
    try:
        return parse_alert(payload)  # type: ignore[arg-type]
    except (AlertFormatError, AlertIgnored) as error:
        return error


@FAST
@given(JSON_VALUES)
def test_parse_alert_any_json_fails_cleanly(payload: object) -> None:
    outcome = _outcome(payload)

    if isinstance(outcome, list):
        assert outcome
        for key in outcome:
            assert validate_access_key_id(key.access_key_id) == key.access_key_id


@FAST
@given(st.binary(max_size=200))
def test_parse_alert_any_bytes_fails_cleanly(payload: bytes) -> None:
    outcome = _outcome(payload)

    assert isinstance(outcome, list | AlertFormatError | AlertIgnored)


@FAST
@given(
    JSON_VALUES,
    SECRETS,
    st.sampled_from(["AccessKeySecret", "access_key_secret", "password", "token"]),
)
def test_parse_alert_secret_never_in_output(
    payload: object, secret: str, field: str
) -> None:
    wrapped = {"access_key_id": secret, field: secret, "extra": payload}
    nested = {"alert_name": "x", "fire_results": [{field: secret, "k": payload}]}

    for candidate in (wrapped, nested, [wrapped]):
        outcome = _outcome(candidate)
        text = (
            str(outcome)
            if isinstance(outcome, Exception)
            else json.dumps([key.model_dump(mode="json") for key in outcome])
        )
        assert secret not in text


@FAST
@given(st.lists(KEY_IDS, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_parse_alert_sls_finds_every_key(keys: list[str], rng: random.Random) -> None:
    columns = ["event.userIdentity.accessKeyId", "accessKeyId", "ak", "AccessKeyId"]
    rows = [{rng.choice(columns): key, "cnt": str(rng.randint(1, 9))} for key in keys]
    rng.shuffle(rows)
    payload = {"alert_name": "n", "alert_id": "a", "fire_results": rows}

    found = parse_alert(payload)

    assert {key.access_key_id for key in found} == set(keys)
    assert len(found) == len(set(keys))


@FAST
@given(st.lists(KEY_IDS, min_size=1, max_size=6, unique=True))
def test_parse_alert_plain_list_order_kept(keys: list[str]) -> None:
    found = parse_alert({"access_key_ids": keys})

    assert [key.access_key_id for key in found] == keys


@FAST
@given(
    KEY_IDS,
    st.dictionaries(st.text(ALNUM, min_size=1, max_size=8), st.text(), max_size=6),
    st.randoms(use_true_random=False),
)
def test_alert_id_independent_of_field_order(
    key_id: str, extra: dict[str, str], rng: random.Random
) -> None:
    payload = {"access_key_id": key_id, **extra}
    payload["access_key_id"] = key_id
    items = list(payload.items())
    rng.shuffle(items)

    first = parse_alert(payload)[0].alert_id
    shuffled = parse_alert(dict(items))[0].alert_id
    as_text = parse_alert(json.dumps(dict(items)))[0].alert_id

    assert first == shuffled
    assert first == as_text
