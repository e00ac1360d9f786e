"""Use cases: load, let core decide, commit (events in the same transaction), then wake."""
