"""One error type for bad input: it always says *where* (file, row) and *what* is wrong."""
from __future__ import annotations


class InputError(ValueError):
    """Bad user input (a file, a CSV row, an argument).

    ``where`` names the file and, when known, the row; ``problem`` says what is wrong.
    Subclasses ValueError so generic callers can still catch it.
    """

    def __init__(self, where: str, problem: str):
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")
