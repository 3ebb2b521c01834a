"""RelayManager's credentials as the usage statistics and the model registry see them."""

from __future__ import annotations

from handlers.auth.credential import stable_index
from handlers.models.catalog import STATIC_MODELS
from handlers.usage.reporter import credential_identity
from handlers.usage.tokens import EXECUTOR_KINDS
from handlers.wsrelay.manager import RelayCredential, RelayManager, random_channel_name


def test_usage_names_a_channel_by_its_id() -> None:
    # resolveUsageSource reads metadata.email (the channel name); EnsureIndex has only the id.
    credential = RelayCredential(id="aistudio-abc", label="aistudio-abc", metadata={"email": "aistudio-abc"})
    assert credential_identity(credential, "client-key") == ("aistudio-abc", stable_index("id:aistudio-abc"))
    assert EXECUTOR_KINDS["aistudio"] == "gemini"  # parseGeminiUsage / parseGeminiStreamUsage


def test_channel_names_are_the_legacys_shape() -> None:
    names = {random_channel_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        suffix = name.removeprefix("aistudio-")
        assert len(suffix) == 16 and set(suffix) <= set("abcdefghijklmnopqrstuvwxyz0123456789")


def test_no_session_no_credentials() -> None:
    manager = RelayManager()
    assert manager.records() == [] and manager.credentials() == [] and manager.usable("aistudio-x") is None
    assert "gemini-pro-latest" in {m.id for m in STATIC_MODELS["aistudio"]}
