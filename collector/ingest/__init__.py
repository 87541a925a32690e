"""Ingest: subscribe to agents' messages, validate, dedupe, store, evaluate faults, then ack."""
