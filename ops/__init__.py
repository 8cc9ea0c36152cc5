"""The `loans` command: the one composition root, the only package that may import every other."""
