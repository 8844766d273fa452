"""Pure shop-floor rules: states, the transitions machine and its guards. No I/O, no Flask."""
