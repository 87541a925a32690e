"""Dispatch: who is on duty at a site (the roster), who a fault is assigned to, which
lessons are at risk today, and the pre-class readiness check."""
