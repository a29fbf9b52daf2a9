"""The SQL store: schema, migrations and the queries the engine and the CLI run."""
