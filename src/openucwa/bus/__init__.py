"""Wakes between processes: "application A reached version N", never event data."""
