"""Projects' actuals against their targets: each target's indicator
answered for the project's period, filtered on the project."""
