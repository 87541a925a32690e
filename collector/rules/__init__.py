"""Fault rules (data) and the engine that evaluates samples against them."""
