"""Reference places shipped with the code as CSV: Iraq's governorates
(``iraq_admin1.csv``, COD-AB admin 1 columns with Arabic and Kurdish names)
and programme sites, read by ``load_reference_locations()`` in
``locations/service.py``. A package only so that ``importlib.resources`` finds
the files once installed.
"""
