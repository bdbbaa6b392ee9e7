"""Materials distributed: items handed out (school bags, hygiene kits,
leaflets in a language...) recorded on a group activity or on a service
record, counted by reporting as a quantity, never as who received them.
Layers: router -> service -> schemas -> models.
"""
