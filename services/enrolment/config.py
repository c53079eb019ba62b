from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHIXUN_ENROLMENT_", extra="ignore")

    default_district_name: str = "默认区教育局"
    # Selection day: a transaction holds its connection while the loop serves other requests,
    # so the service that takes the rush keeps more of them.
    db_pool_size: int = 30
    # How often expired offers and queued roster imports are looked for.
    sweep_interval_seconds: float = 2.0
    # How often the calendar looks for programs to close, start or finish (calendar.py).
    calendar_interval_seconds: float = 30.0
