from services.feedback.models import FeedbackModel
from shared.migrate import run_env

run_env(FeedbackModel.metadata)
