from services.enrolment.models import EnrolmentModel
from shared.migrate import run_env

run_env(EnrolmentModel.metadata)
