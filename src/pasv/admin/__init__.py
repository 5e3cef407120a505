"""The admin HTTP API and web console: a peer of the server, reading its live sessions through
``server.registry.SessionRegistry`` and changing policy through ``actions.Manager``."""
