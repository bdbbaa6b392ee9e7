"""The reporting service: folds the beneficiary and training services' events
into fact tables that hold no PII, and answers indicators, the programme
overview, exports and feeds from them, with small cells suppressed for callers
without record-level access. It never reads the producers' databases: events
arrive on its queue, and its pull of their change feeds repairs whatever the
queue lost.
"""
