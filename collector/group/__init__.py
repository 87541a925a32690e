"""A collector group: agents partitioned, partitions and the leader role leased in
PostgreSQL (docs/scaling.md)."""
