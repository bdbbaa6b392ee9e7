"""The query engine: a per-process columnar copy of the fact tables
(``store.py``), the measure catalogue (``measures.py``: facts, dims, measures)
and the generic, exact arithmetic that answers them within the caller's scope
(``evaluator.py``). It reads facts and never writes them; suppressing small
cells is left to its callers.
"""
