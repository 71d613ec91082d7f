"""Pure vectorized physics and cost functions over NumPy arrays. No I/O."""
