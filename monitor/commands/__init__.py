"""Click command groups of the `monitor` CLI, one module per noun (rules, stories, feeds, ...)."""
