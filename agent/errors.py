"""Errors the agent raises on purpose; each says what is wrong in words a user can act on."""


class AgentError(Exception):
    """Base of the agent's own errors."""


class ConfigError(AgentError):
    """A configuration file is missing, unreadable or invalid.

    The message names the file, the key and what was expected; the CLI prints it and exits 2.
    """


class ProfileError(AgentError):
    """A device profile file is invalid."""


class SpoolError(AgentError):
    """The local spool cannot be opened or written."""
