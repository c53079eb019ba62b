from services.budget.models import BudgetModel
from shared.migrate import run_env

run_env(BudgetModel.metadata)
