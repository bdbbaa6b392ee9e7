"""Data-sharing agreements and the record-level exports made under them."""
