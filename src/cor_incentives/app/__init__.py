"""The shell around the core: command handling, signatures and nonces, keys, genesis, verify."""
