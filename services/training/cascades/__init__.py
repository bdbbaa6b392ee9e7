"""The Training-of-Trainers cascade: how far a ToT cohort reached, generation
by generation, worked out from cohorts and certifications. It has no tables of
its own; layers: router -> service.
"""
