"""Results: knowledge tests, competency assessments, and completion and
certification judged by the course's criteria, with the reasons for each
verdict. Only what changed since the last publication becomes an event; layers:
router -> service -> models.
"""
