"""Trainees: registered by one organisation and seen only by it, contact
details encrypted, with their rights of erasure and access. Erasure keeps their
training facts under the same id; layers: router -> service -> models.
"""
