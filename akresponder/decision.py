"""Choose the response path for a compromised AccessKey from the triage facts.

``decide`` is a pure function: it reads ``KeyFacts`` and the requested mode and
returns a ``Decision``, with no cloud call and no clock. The flow acts on the
path; the reasons go into the report word for word, so they are written for the
person who reads it.

The rules follow Alibaba Cloud's procedure for a compromised AccessKey pair. A key
that is not in use is disabled and deleted. A key in use that can be rotated now is
rotated. A key in use that cannot be rotated now is contained (explicit-deny
policy, MFA on console login) until it can be. The account root's key is handled
by a person in the console, because RAM cannot manage it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Path(StrEnum):
    """A response path. ``audit-only`` investigates and changes nothing."""

    DELETE = "delete"
    ROTATE = "rotate"
    CONTAIN = "contain"
    MANUAL = "manual"
    AUDIT_ONLY = "audit-only"


class Mode(StrEnum):
    """The requested mode: ``auto`` lets the facts decide."""

    AUTO = "auto"
    DELETE = "delete"
    ROTATE = "rotate"
    CONTAIN = "contain"
    AUDIT_ONLY = "audit-only"


class OwnerType(StrEnum):
    """The kind of a key's owner, as ActionTrail's ``userIdentity.type`` names it."""

    RAM_USER = "ram-user"
    ROOT_ACCOUNT = "root-account"
    UNKNOWN = "unknown"


class Rotatable(StrEnum):
    """Whether the applications that use the key can switch to a new one now."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class KeyFacts:
    """The triage facts that the decision depends on.

    ``in_use`` is None when the audit APIs could not tell, and the decision then
    treats the key as in use, because deleting a key that production still needs
    causes an outage.
    """

    access_key_id: str
    owner_type: OwnerType
    user_name: str | None = None
    status: str | None = None  # "Active", "Inactive", or None when not found
    in_use: bool | None = None
    is_responder_key: bool = False
    free_key_slot: bool = True


@dataclass(frozen=True)
class Decision:
    """The chosen path, the reasons for it in plain words, and what forced it."""

    path: Path
    reasons: list[str] = field(default_factory=list)
    forced: bool = False
    changes_allowed: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path.value,
            "reasons": list(self.reasons),
            "forced": self.forced,
        }


def decide(facts: KeyFacts, mode: Mode, rotatable: Rotatable) -> Decision:
    """Return the response path for the key described by ``facts``.

    The checks run in order of safety: the responder's own key, then audit-only,
    then keys RAM cannot manage (unknown owner, account root), then forced modes,
    then the automatic rules.
    """
    key = facts.access_key_id

    if facts.is_responder_key:
        return Decision(
            Path.MANUAL,
            [
                f"{key} is the AccessKey this responder is signed in with. Disabling, "
                "denying or deleting it would cut off the response itself, so nothing "
                "was changed.",
                "Run the response again with credentials of another identity, or "
                "rotate this key by hand in the RAM console.",
            ],
            changes_allowed=False,
        )

    if mode is Mode.AUDIT_ONLY:
        return Decision(
            Path.AUDIT_ONLY,
            [f"Mode audit-only was requested: {key} is investigated, nothing changed."],
            forced=True,
            changes_allowed=False,
        )

    if facts.owner_type is OwnerType.UNKNOWN:
        return Decision(
            Path.MANUAL,
            [
                f"No RAM user holds {key} and ActionTrail has no record of its owner, "
                "so the responder cannot tell whose key it is.",
                "Check that the key id is right and belongs to this account; if it "
                "belongs to another account, respond with that account's credentials.",
            ],
            changes_allowed=False,
        )

    if facts.owner_type is OwnerType.ROOT_ACCOUNT:
        reasons = [
            f"{key} belongs to the account root (Alibaba Cloud account), which RAM "
            "cannot disable, rotate or restrict: a person must do it in the console.",
            "The operations and bills are audited so that the person acting has the "
            "evidence.",
        ]
        if mode is not Mode.AUTO:
            reasons.append(f"Mode {mode.value} does not apply to a root key.")
        return Decision(Path.MANUAL, reasons)

    if facts.status is None:
        return Decision(
            Path.AUDIT_ONLY,
            [
                f"{key} no longer exists on user {facts.user_name}: it was already "
                "deleted, so nothing is left to disable. Its past operations are "
                "audited.",
            ],
            changes_allowed=False,
        )

    if mode is not Mode.AUTO:
        return _forced(facts, mode)

    return _automatic(facts, rotatable)


def _forced(facts: KeyFacts, mode: Mode) -> Decision:
    path = Path(mode.value)
    reasons = [f"Mode {mode.value} was requested, so the automatic rules were skipped."]
    if path is Path.DELETE and facts.in_use is not False:
        reasons.append(
            "The key may still be in use: deleting it stops every application that "
            "signs with it."
        )
    if path is Path.ROTATE and not facts.free_key_slot:
        reasons.append(
            f"User {facts.user_name} already has two AccessKeys, the maximum: the "
            "other key is removed only after approval."
        )
    return Decision(path, reasons, forced=True)


def _automatic(facts: KeyFacts, rotatable: Rotatable) -> Decision:
    key = facts.access_key_id

    if facts.status == "Inactive":
        return Decision(
            Path.DELETE,
            [
                f"{key} is already inactive, so no application can sign with it; it "
                "is deleted after approval so that nobody can enable it again.",
            ],
        )

    if facts.in_use is False:
        return Decision(
            Path.DELETE,
            [
                f"{key} was not used in the look-back window, so disabling it breaks "
                "nothing: the delete path disables it, then deletes it after "
                "approval.",
            ],
        )

    reasons = []
    if facts.in_use is None:
        reasons.append(
            f"Whether {key} is in use could not be determined, so it is treated as in "
            "use."
        )
    else:
        reasons.append(f"{key} was used in the look-back window.")

    if rotatable is Rotatable.YES:
        reasons.append(
            "Its applications can switch to a new key now, so it is rotated: a new "
            "key is created and delivered, the old one is disabled once its traffic "
            "stops, then deleted after approval."
        )
        if not facts.free_key_slot:
            reasons.append(
                f"User {facts.user_name} already has two AccessKeys, the maximum: the "
                "other key is removed only after approval."
            )
        return Decision(Path.ROTATE, reasons)

    if rotatable is Rotatable.NO:
        reasons.append("Its applications cannot switch to a new key now.")
    else:
        reasons.append(
            "Nobody confirmed that its applications can switch to a new key."
        )
    reasons.append(
        "It is contained until it can be rotated: an explicit-deny policy blocks "
        "high-risk operations and console login requires MFA."
    )
    return Decision(Path.CONTAIN, reasons)
