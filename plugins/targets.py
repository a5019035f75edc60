"""Built-in targets."""
