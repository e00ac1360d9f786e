"""OpenUCWA: a self-hosted UCWA 2.0 server, SDK and CLI."""

__version__ = "0.1.0"
