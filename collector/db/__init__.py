"""SQL storage: models, sessions, migrations and the queries the rest of the collector uses."""
