"""roomwatch collector: ingests agents' messages, stores samples, opens faults, serves the API."""
