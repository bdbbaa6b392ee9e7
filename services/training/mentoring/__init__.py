"""On-the-job mentoring of organisations and of staff: a plan with goals
linked to capacity-assessment domains or competency items, visits and remote
sessions with their action points, and the follow-up of those points under
If-Match. Observations and action-point wording are encrypted; events carry
counts, dates and statuses; layers: router -> service -> schemas -> models.
"""
