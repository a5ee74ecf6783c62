"""Node agents, one module per role; ``base.Agent`` is the loop they share."""
