"""PostgreSQL: the connection pool, migrations and data sets."""
