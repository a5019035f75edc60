"""Built-in noise_conds."""
