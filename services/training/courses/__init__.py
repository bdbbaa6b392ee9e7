"""The course catalogue: curricula (foundational, ToT, refresher) with their
planned hours, target competencies and the criteria for completion and
certification. It holds no personal data, so every organisation can read it;
layers: router -> service -> models.
"""
