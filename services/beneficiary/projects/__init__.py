"""Projects: a donor-funded piece of a programme with its period, lead and
partner organisations, locations and targets per indicator; services and
group activities (here) and training cohorts (training service) name one.
Layers: router -> service -> schemas -> models.
"""
