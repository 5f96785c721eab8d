"""How it is computed: one module per backend, each importing only synbench.core."""
