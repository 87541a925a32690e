"""The collector's REST API (FastAPI): rooms, devices with their latest values, faults,
health and Prometheus metrics. Routes are thin: they call ``collector.db.queries`` and turn
its results into the response schemas of ``schemas``."""
