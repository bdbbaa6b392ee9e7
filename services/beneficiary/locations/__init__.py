"""Places: governorates, districts and sites (with P-codes), one tree shared by
every organisation of the platform (reporting keeps a copy). Which sites a
caller may see comes from their token, not from here; layers: router -> service
-> schemas -> models.
"""
