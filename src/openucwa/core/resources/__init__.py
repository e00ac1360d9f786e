"""Typed renderers for UCWA resources, one module per family."""
