"""A person's rights over their data: erasure on request, and the subject
access export of everything every service holds about them. Erasure itself is
``erase_person()`` in ``erasure.py`` here, shared with withdrawal and
retention, so there is one way to forget a person.
"""
