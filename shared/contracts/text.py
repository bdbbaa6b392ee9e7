"""Free text in requests: one type for every field a person types.

PostgreSQL ``text`` cannot hold NUL (U+0000), and no UTF-8 store can hold a
lone surrogate (U+D800-U+DFFF, which ``json.loads`` lets through from
``"\\ud800"``). Either reached the database as a 500; ``Text`` turns both into
a 422 at the door. The pattern is a string constraint, so it merges with the
``max_length`` every field or list item gives next to it, and a string with
any constraint is checked for lone surrogates by pydantic itself
(``string_unicode``). ``shared.errors`` words the pattern's error for people.
"""

from typing import Annotated, Final

from pydantic import StringConstraints

NO_NUL: Final = r"^[^\x00]*$"

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""A request's free text; give it a ``max_length`` where it is used:
``name: Text = Field(max_length=200)`` or ``list[Annotated[Text,
Field(max_length=200)]]``."""
