from gateway.models import GatewayModel
from shared.migrate import run_env

run_env(GatewayModel.metadata)
