"""Built-in input scalers."""
