"""The partner arc before training: organisation profiles (prospective
organisations included), mapping exercises, organisational capacity
assessments, selection rounds and needs assessments. Every record belongs to
the organisation that wrote it (the lead); a profile is keyed by the profiled
organisation and kept by its steward. Events carry ids, codes and scores,
never the contact person or evidence; layers: router -> service -> schemas ->
models.
"""
