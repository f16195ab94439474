"""Deterministic rewriting of AWS identifiers into Alibaba Cloud ones.

Every AWS id maps to one Alibaba id through a SHA-256 hash of the original, so the same
CloudTrail input always gives the same scenario and an id keeps its identity across
events: the ``AKIA`` key that created a user and the key in that user's later calls map
to the same ``LTAI`` id. The hashes are not secret: they only make the ids look like
Alibaba ones.
"""

from __future__ import annotations

import hashlib
import re

from emulator import cloudtrail_tables as tables

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE36_LOWER = "0123456789abcdefghijklmnopqrstuvwxyz"

AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
AWS_PRINCIPAL_ID = re.compile(r"\b(AIDA|AROA)[A-Z0-9]{13,17}\b")
AWS_ARN = re.compile(
    r"\barn:aws(?:-[a-z]+)*:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}|aws)?:"
)
AWS_RESOURCE_ID = re.compile(
    r"(?<![\w.-])(?P<prefix>"
    + "|".join(sorted(tables.RESOURCE_ID_PREFIXES, key=len, reverse=True))
    + r")-(?P<rest>[0-9a-z]{8,17})(?![\w-])"
)
# The Alibaba ids this module makes, so that text is never rewritten twice.
ALIBABA_KEY_ID = re.compile(r"^(LTAI5t[0-9A-Za-z]{18}|STS\.[0-9A-Za-z]{24})$")


def _digest(kind: str, value: str) -> int:
    data = hashlib.sha256(f"akresponder/{kind}/{value}".encode()).digest()
    return int.from_bytes(data, "big")


def _encode(number: int, alphabet: str, length: int) -> str:
    characters = []
    for _ in range(length):
        number, remainder = divmod(number, len(alphabet))
        characters.append(alphabet[remainder])
    return "".join(characters)


def map_region(aws_region: str | None, default: str) -> str:
    """Map an AWS region id to the same or the nearest Alibaba region id."""
    if not aws_region:
        return default
    if aws_region in tables.SAME_REGIONS:
        return aws_region
    return tables.REGION_MAP.get(aws_region, default)


def map_access_key_id(aws_key_id: str) -> str:
    """Map an AWS key id: ``AKIA`` -> 24-character ``LTAI5t...``, ``ASIA`` -> ``STS.``.

    Other ids (``ABIA``, ``ACCA`` and unknown forms) map to ``LTAI5t`` ids too, since
    they are long-term credentials of some kind.
    """
    if ALIBABA_KEY_ID.match(aws_key_id):
        return aws_key_id
    number = _digest("access-key", aws_key_id)
    if aws_key_id.startswith("ASIA"):
        return "STS." + _encode(number, BASE62, 24)
    return "LTAI5t" + _encode(number, BASE62, 18)


def generated_secret(access_key_id: str) -> str:
    """Return the 30-character test secret the scenario gives an imported key.

    The secret derives from the key id so that conversion is repeatable. It is a test
    value for the local emulator and unrelated to any secret of the source account.
    """
    return _encode(_digest("secret", access_key_id), BASE62, 30)


class IdMapper:
    """Map the account, principal, key and resource ids of one CloudTrail source."""

    def __init__(self, recipient_account: str, account_id: str | None = None) -> None:
        self.recipient_account = recipient_account
        self.account_override = account_id
        self.known_accounts: set[str] = {recipient_account}

    def account(self, aws_account: str | None) -> str:
        """Map a 12-digit AWS account id to a 16-digit Alibaba account id.

        The recipient account becomes ``--account-id`` when given; every other account
        is padded to ``1000<12 digits>`` so the original stays readable.
        """
        if not aws_account:
            aws_account = self.recipient_account
        if aws_account == self.recipient_account and self.account_override:
            return self.account_override
        self.known_accounts.add(aws_account)
        if len(aws_account) == 12 and aws_account.isdigit():
            return "1000" + aws_account
        return aws_account

    @staticmethod
    def user_id(aws_principal: str) -> str:
        """Map an IAM user id (``AIDA...``) or user name to an 18-digit RAM UserId."""
        return "2" + str(_digest("user", aws_principal) % 10**17).zfill(17)

    @staticmethod
    def role_id(aws_role_id: str) -> str:
        """Map an IAM role id (``AROA...``) to an 18-digit RAM RoleId."""
        return "3" + str(_digest("role", aws_role_id) % 10**17).zfill(17)

    @staticmethod
    def resource_id(prefix: str, rest: str) -> str:
        """Map an EC2-style id such as ``i-0dbc91f429e48eeed`` to ``i-<20 chars>``."""
        alibaba_prefix = tables.RESOURCE_ID_PREFIXES[prefix]
        body = _encode(_digest(f"resource/{prefix}", rest), BASE36_LOWER, 20)
        return f"{alibaba_prefix}-{body}"

    def rewrite(self, text: str) -> str:
        """Rewrite the AWS ARNs, ids and service host names inside text."""
        text = AWS_ARN.sub(self._arn_prefix, text)
        text = AWS_KEY_ID.sub(lambda match: map_access_key_id(match.group(0)), text)
        text = AWS_PRINCIPAL_ID.sub(self._principal_id_match, text)
        for aws_account in sorted(self.known_accounts):
            if aws_account in text:
                text = re.sub(rf"\b{aws_account}\b", self.account(aws_account), text)
        text = AWS_RESOURCE_ID.sub(self._resource_id_match, text)
        return text.replace(".amazonaws.com", ".aliyuncs.com")

    def _arn_prefix(self, match: re.Match[str]) -> str:
        service = tables.ARN_SERVICES.get(match["service"], match["service"])
        region = map_region(match["region"], "") if match["region"] else ""
        account = match["account"] or ""
        if account == "aws":
            account = "system"
        elif account:
            account = self.account(account)
        return f"acs:{service}:{region}:{account}:"

    def _principal_id_match(self, match: re.Match[str]) -> str:
        if match.group(1) == "AROA":
            return self.role_id(match.group(0))
        return self.user_id(match.group(0))

    def _resource_id_match(self, match: re.Match[str]) -> str:
        rest = match["rest"]
        if not any(character.isdigit() for character in rest):
            return match.group(0)  # a word such as "sg-frontend", not an id
        return self.resource_id(match["prefix"], rest)
