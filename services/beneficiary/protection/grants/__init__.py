"""Break-the-glass grants (one person's time-limited access to one
beneficiary outside their sites) and the access review of them."""
