"""Theory: one module per paper with its constants, bounds and predicted exponents."""
