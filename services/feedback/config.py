from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHIXUN_FEEDBACK_", extra="ignore")

    # How often the deadline scheduler looks for due work; it derives it from the database.
    scheduler_interval_seconds: float = 5.0
    # R25: show the trainee's name on ratings to the institution (default: anonymous).
    ratings_named_to_institution: bool = False
