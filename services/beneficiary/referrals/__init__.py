"""Referrals: a person sent to another unit or provider with their consent to
that referral, then tracked to an outcome with the receiver's feedback. Layers:
router -> service -> models.
"""
