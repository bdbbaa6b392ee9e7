"""Notices to the data protection focal point: raised with the write that
causes them, delivered to a webhook after commit, listed for oversight."""
