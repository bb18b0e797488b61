"""The one exception the testenv raises."""


class TestenvError(Exception):
    """A step of build/up/down failed; `logs` names the log files that explain why."""

    # Not a test class, despite the name pytest would collect.
    __test__ = False

    def __init__(self, message, logs=()):
        super().__init__(message)
        self.logs = tuple(logs)
