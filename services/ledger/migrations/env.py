from services.ledger.models import LedgerModel
from shared.migrate import run_env

run_env(LedgerModel.metadata)
