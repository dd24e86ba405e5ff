"""Errors that the command line reports as one clear line instead of a traceback."""


class RecmvError(Exception):
    """A problem with user input (a file, an argument) that the user can fix.

    The message names the file or argument and what was expected.
    """


class InputFileError(RecmvError):
    """A file exists but does not hold what was expected."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
