"""roomwatch room agent: polls the room's devices and the recording PC, publishes over MQTT."""

__version__ = "0.1.0"
