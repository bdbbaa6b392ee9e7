"""The beneficiary service: the people a programme serves and the care they get
(registration with consent, service records, cases, referrals, risk alerts,
offline sync), with names, phones and addresses encrypted. It tells the other
services what happened only through its outbox and change feed, with ids and
facts, never PII.
"""
