"""Table test of ``decide``: every branch, with the reasons a person reads."""

from __future__ import annotations

import pytest

from akresponder.decision import (
    Decision,
    KeyFacts,
    Mode,
    OwnerType,
    Path,
    Rotatable,
    decide,
)

KEY = "LTAI5tAPPBACKEND00000001"


def facts(**overrides: object) -> KeyFacts:
    values: dict[str, object] = {
        "access_key_id": KEY,
        "owner_type": OwnerType.RAM_USER,
        "user_name": "app-backend",
        "status": "Active",
        "in_use": True,
        "is_responder_key": False,
        "free_key_slot": True,
    }
    values.update(overrides)
    return KeyFacts(**values)  # type: ignore[arg-type]


# (case id, facts overrides, mode, rotatable, expected path, forced, changes allowed,
#  a phrase one of the reasons must contain)
CASES = [
    ("unused-deletes", {"in_use": False}, Mode.AUTO, Rotatable.UNKNOWN,
     Path.DELETE, False, True, "not used in the look-back window"),
    ("unused-rotatable-still-deletes", {"in_use": False}, Mode.AUTO, Rotatable.YES,
     Path.DELETE, False, True, "disables it, then deletes it after approval"),
    ("in-use-rotatable-rotates", {}, Mode.AUTO, Rotatable.YES,
     Path.ROTATE, False, True, "rotated"),
    ("in-use-full-slots-rotates", {"free_key_slot": False}, Mode.AUTO, Rotatable.YES,
     Path.ROTATE, False, True, "two AccessKeys"),
    ("in-use-not-rotatable-contains", {}, Mode.AUTO, Rotatable.NO,
     Path.CONTAIN, False, True, "cannot switch to a new key now"),
    ("in-use-unknown-contains", {}, Mode.AUTO, Rotatable.UNKNOWN,
     Path.CONTAIN, False, True, "Nobody confirmed"),
    ("usage-unknown-treated-in-use", {"in_use": None}, Mode.AUTO, Rotatable.NO,
     Path.CONTAIN, False, True, "treated as in use"),
    ("usage-unknown-rotatable-rotates", {"in_use": None}, Mode.AUTO, Rotatable.YES,
     Path.ROTATE, False, True, "treated as in use"),
    ("root-key-manual", {"owner_type": OwnerType.ROOT_ACCOUNT, "user_name": None},
     Mode.AUTO, Rotatable.YES, Path.MANUAL, False, True, "account root"),
    ("root-key-forced-still-manual",
     {"owner_type": OwnerType.ROOT_ACCOUNT, "user_name": None},
     Mode.DELETE, Rotatable.YES, Path.MANUAL, False, True, "does not apply"),
    ("unknown-owner-manual",
     {"owner_type": OwnerType.UNKNOWN, "user_name": None, "status": None},
     Mode.AUTO, Rotatable.YES, Path.MANUAL, False, False, "cannot tell whose key"),
    ("unknown-owner-forced-still-manual",
     {"owner_type": OwnerType.UNKNOWN, "user_name": None, "status": None},
     Mode.CONTAIN, Rotatable.NO, Path.MANUAL, False, False, "cannot tell whose key"),
    ("responder-key-manual", {"is_responder_key": True}, Mode.AUTO, Rotatable.YES,
     Path.MANUAL, False, False, "signed in with"),
    ("responder-key-beats-forced-delete", {"is_responder_key": True}, Mode.DELETE,
     Rotatable.NO, Path.MANUAL, False, False, "nothing was changed"),
    ("responder-key-beats-audit-only", {"is_responder_key": True}, Mode.AUDIT_ONLY,
     Rotatable.NO, Path.MANUAL, False, False, "nothing was changed"),
    ("inactive-still-deletes", {"status": "Inactive"}, Mode.AUTO, Rotatable.YES,
     Path.DELETE, False, True, "already inactive"),
    ("inactive-in-use-still-deletes", {"status": "Inactive", "in_use": True},
     Mode.AUTO, Rotatable.NO, Path.DELETE, False, True, "after approval"),
    ("already-deleted-audits", {"status": None}, Mode.AUTO, Rotatable.YES,
     Path.AUDIT_ONLY, False, False, "already deleted"),
    ("forced-delete-in-use", {}, Mode.DELETE, Rotatable.YES,
     Path.DELETE, True, True, "may still be in use"),
    ("forced-rotate-unused", {"in_use": False}, Mode.ROTATE, Rotatable.NO,
     Path.ROTATE, True, True, "Mode rotate was requested"),
    ("forced-rotate-full-slots", {"free_key_slot": False}, Mode.ROTATE,
     Rotatable.UNKNOWN, Path.ROTATE, True, True, "two AccessKeys"),
    ("forced-contain-unused", {"in_use": False}, Mode.CONTAIN, Rotatable.YES,
     Path.CONTAIN, True, True, "Mode contain was requested"),
    ("audit-only-changes-nothing", {}, Mode.AUDIT_ONLY, Rotatable.YES,
     Path.AUDIT_ONLY, True, False, "nothing changed"),
    ("audit-only-root", {"owner_type": OwnerType.ROOT_ACCOUNT, "user_name": None},
     Mode.AUDIT_ONLY, Rotatable.NO, Path.AUDIT_ONLY, True, False, "nothing changed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "mode", "rotatable", "path", "forced", "changes", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decide_table(
    overrides: dict[str, object],
    mode: Mode,
    rotatable: Rotatable,
    path: Path,
    forced: bool,
    changes: bool,
    phrase: str,
) -> None:
    decision = decide(facts(**overrides), mode, rotatable)

    assert decision.path is path
    assert decision.forced is forced
    assert decision.changes_allowed is changes
    assert any(phrase in reason for reason in decision.reasons), decision.reasons


def test_decide_reasons_name_the_key() -> None:
    for case in CASES:
        decision = decide(facts(**case[1]), case[2], case[3])
        text = " ".join(decision.reasons)
        mentions_mode = "Mode " in text
        assert KEY in text or mentions_mode, (case[0], decision.reasons)


def test_decide_every_path_reached() -> None:
    reached = {decide(facts(**case[1]), case[2], case[3]).path for case in CASES}

    assert reached == set(Path)


def test_decision_to_dict_is_json_ready() -> None:
    decision = Decision(Path.CONTAIN, ["a reason"], forced=True)

    assert decision.to_dict() == {
        "path": "contain",
        "reasons": ["a reason"],
        "forced": True,
    }


def test_decide_is_pure() -> None:
    first = decide(facts(), Mode.AUTO, Rotatable.YES)
    second = decide(facts(), Mode.AUTO, Rotatable.YES)

    assert first == second
