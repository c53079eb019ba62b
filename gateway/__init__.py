"""The gateway: accounts and tokens, routing to the services, one OpenAPI document."""
