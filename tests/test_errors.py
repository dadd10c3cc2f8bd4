"""The error tree: peer errors carry no personal data and only plain codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ClientConfig, load_settings
from gateway.connectors.dvcqg import DvcqgConfig
from gateway.errors import (
    ConfigurationError,
    PermanentPeerError,
    TransientPeerError,
    plain_peer_code,
    scrub_peer_text,
)


def test_peer_text_hides_id_numbers_and_is_capped() -> None:
    """Runs of 9+ digits are hidden, shorter numbers kept, and long text cut."""
    text = scrub_peer_text("Bad CCCD 079203001234, CMND 123456789, mã 2")
    assert "079203001234" not in text
    assert "123456789" not in text
    assert "mã 2" in text
    assert len(scrub_peer_text("x" * 5000)) <= 301


def test_peer_error_message_is_scrubbed_whatever_the_connector_put_in() -> None:
    """A reason phrase or protocol error quoting an ID reaches no log or dead letter whole."""
    exc = TransientPeerError(
        "HTTP 503 busy CMND 123456789", system="dvcqg", operation="DongBoHoSoMC", status=503
    )
    assert "123456789" not in str(exc)
    assert "123456789" not in exc.message


@pytest.mark.parametrize(
    ("code", "kept"),
    [("0", "0"), ("00", "00"), ("401", "401"), ("E_RECORD-2.1", "E_RECORD-2.1")],
)
def test_plain_peer_codes_are_kept(code: str, kept: str) -> None:
    """Short plain codes pass through unchanged."""
    assert plain_peer_code(code) == kept


@pytest.mark.parametrize("code", ["CCCD=079203001234", "079203001234", "x" * 40, "a b", "mã"])
def test_other_peer_codes_become_other(code: str) -> None:
    """Codes carrying data, spaces or unbounded text become "other" (labels stay bounded)."""
    assert plain_peer_code(code) == "other"
    exc = PermanentPeerError("refused", system="dvcqg", operation="x", peer_code=code)
    assert exc.reason == "peer_code:other"


def test_invalid_config_error_does_not_quote_secrets(tmp_path: Path) -> None:
    """A config error names fields and rules, never the values (passwords, keys)."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[dvcqg]\nbase_url = "https://dvc.example"\nusername = "u"\n'
        'password = "TopSecretPortalPw!"\n',  # dstcode missing
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_settings(cfg)
    assert "dvcqg.dstcode" in str(caught.value)
    assert "TopSecretPortalPw!" not in str(caught.value)


def test_portal_url_with_credentials_is_refused() -> None:
    """user:password@ in the base URL is refused (httpx would log it)."""
    with pytest.raises(ValueError, match="credentials"):
        DvcqgConfig(
            base_url="https://u:pw@dvc.example",
            username="u",
            password="pw",
            dstcode="d",
        )


def test_client_id_cannot_contain_a_colon() -> None:
    """Client ids are parts of Redis keys, so ":" is refused."""
    with pytest.raises(ValueError, match="pattern"):
        ClientConfig(id="prov:x")
