"""Built-in loss_weights."""
