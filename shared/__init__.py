"""Common code of the shixun services: config, database, errors, auth, events, messaging."""
