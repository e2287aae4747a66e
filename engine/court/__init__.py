"""Court read-models and administration."""
