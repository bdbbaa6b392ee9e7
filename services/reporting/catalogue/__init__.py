"""The indicator catalogue as data: one versioned JSON file per indicator and
``categories.json`` for how each disaggregation is exchanged (HXL, DHIS2),
checked against the engine's measures when loaded, plus the generator of
``docs/indicators.md``. It computes nothing; the engine does.
"""
