"""Standard Webhooks signing, checked against the ``standardwebhooks`` reference library."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.connectors.webhook_signing import (
    new_secret,
    sign,
    signature_header,
    signed_headers,
    verify,
)
from gateway.errors import GatewayError, WebhookSignatureError

NOW = 1_750_000_000
BODY = '{"type":"delivery.delivered","data":{"subject":"Hồ sơ"}}'.encode()


def test_new_secret_is_whsec_and_32_random_bytes() -> None:
    """Fresh secrets carry the prefix, decode to 32 bytes and differ."""
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_")
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32
    assert a != b


def test_signature_matches_the_reference_library() -> None:
    """Our v1 signature equals the one ``standardwebhooks`` computes for the same message."""
    secret = new_secret()
    at = datetime.fromtimestamp(NOW, tz=UTC)
    reference = Webhook(secret).sign("msg_1", at, BODY.decode())
    assert sign(secret, "msg_1", NOW, BODY) == reference


def test_reference_library_verifies_what_we_sign_with_two_secrets() -> None:
    """During a rotation both signatures go out; a receiver holding either secret accepts."""
    old, new = new_secret(), new_secret()
    now = int(datetime.now(tz=UTC).timestamp())
    sent = signed_headers([old, new], "msg_2", now, BODY)
    assert len(sent["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(BODY, sent) == {
            "type": "delivery.delivered",
            "data": {"subject": "Hồ sơ"},
        }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sent)


def test_we_verify_what_the_reference_library_signs() -> None:
    """A message signed by the reference library passes our verify, with any secret order."""
    secret = new_secret()
    at = datetime.fromtimestamp(NOW, tz=UTC)
    headers = {
        "Webhook-Id": "msg_3",
        "Webhook-Timestamp": str(NOW),
        "Webhook-Signature": Webhook(secret).sign("msg_3", at, BODY.decode()),
    }
    verify([new_secret(), secret], headers, BODY, now=NOW)
    verify([secret], headers, BODY, now=NOW + 299)


def test_unpadded_secret_is_accepted_as_the_library_does() -> None:
    """Issuers that drop base64 padding produce the same key."""
    padded = "whsec_" + base64.b64encode(b"k" * 31).decode()
    assert padded.endswith("=")
    assert sign(padded.rstrip("="), "m", NOW, BODY) == sign(padded, "m", NOW, BODY)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-id": "msg_other"}, "bad_signature"),
        ({"webhook-timestamp": str(NOW - 301)}, "too_old"),
        ({"webhook-timestamp": str(NOW + 301)}, "too_new"),
        ({"webhook-timestamp": "12.5"}, "bad_timestamp"),
        ({"webhook-signature": "v1,not-base64!"}, "bad_signature"),
        ({"webhook-signature": "v2,AAAA"}, "bad_signature"),
    ],
)
def test_tampered_or_stale_messages_are_refused(change: dict[str, str], reason: str) -> None:
    """Each broken part is refused with a reason naming the check."""
    secret = new_secret()
    headers = {**signed_headers([secret], "msg_4", NOW, BODY), **change}
    with pytest.raises(WebhookSignatureError) as caught:
        verify([secret], headers, BODY, now=NOW)
    assert caught.value.reason == reason
    assert isinstance(caught.value, GatewayError)


def test_a_changed_body_or_a_missing_header_is_refused() -> None:
    """One byte of body changes the signature; every header is required."""
    secret = new_secret()
    headers = signed_headers([secret], "msg_5", NOW, BODY)
    with pytest.raises(WebhookSignatureError, match="bad_signature"):
        verify([secret], headers, BODY + b" ", now=NOW)
    for name in headers:
        partial = {k: v for k, v in headers.items() if k != name}
        with pytest.raises(WebhookSignatureError, match="missing_header"):
            verify([secret], partial, BODY, now=NOW)


def test_no_secret_refuses_to_sign_or_verify() -> None:
    """An empty secret list is a configuration mistake, not a pass."""
    with pytest.raises(WebhookSignatureError, match="bad_secret"):
        signature_header([], "m", NOW, BODY)
    headers = signed_headers([new_secret()], "m", NOW, BODY)
    with pytest.raises(WebhookSignatureError, match="bad_secret"):
        verify([], headers, BODY, now=NOW)
    with pytest.raises(WebhookSignatureError, match="bad_secret"):
        sign("whsec_", "m", NOW, BODY)
