"""Imports: submissions from KoboToolbox, ODK Central and spreadsheets, turned
into people and service records by a stored mapping and written through the
same batch function as offline sync (``sync.service.apply_batch``)."""
