from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHIXUN_LEDGER_", extra="ignore")

    # A TTF/OTF with Simplified Chinese glyphs for transcripts; unset: Noto Serif/Sans SC.
    transcript_font: Path | None = None
    # How often queued provincial imports are looked for (an upload wakes its own process).
    import_interval_seconds: float = 2.0
