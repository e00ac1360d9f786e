"""The directory's one failure callers must tell apart, in a module light enough for the edge."""

from __future__ import annotations


class DirectoryUnavailable(Exception):
    """No directory URL answered (or the service account was refused): a retryable condition."""
