from pathlib import Path
from typing import Any

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHIXUN_LEDGER_", extra="ignore")

    # A TTF/OTF with Simplified Chinese glyphs for transcripts; unset: Noto Serif/Sans SC.
    transcript_font: Path | None = None
    # How often queued provincial imports are looked for (an upload wakes its own process).
    import_interval_seconds: float = 2.0
    # Districts whose exchange with the provincial platform runs by itself
    # (services/ledger/province_sync.py), as JSON: [{"district_id": ..., "directory": ...}
    # or {"district_id": ..., "url": ..., "token": ...}]; empty: files go by hand.
    province_sync: list[dict[str, Any]] = []
    province_sync_interval_seconds: float = 300.0
