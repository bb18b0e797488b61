# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The one place that retries Alibaba Cloud API calls: capped, jittered exponential backoff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.ack.servicemesh.plugins.module_utils._alibaba.errors import (
    is_retriable,
    retry_after_seconds,
    translate,
)


class Retrier:
    """Calls a function, retrying what errors.is_retriable() allows, then raises a translated MeshError."""

    def __init__(self, attempts=4, base_delay=0.5, max_delay=5.0, sleep=time.sleep, rand=random.random):
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.rand = rand

    def delay(self, attempt, exc):
        """Full jitter below the exponential ceiling, never less than the Retry-After asked for, always capped."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        wait = ceiling * self.rand()
        asked = retry_after_seconds(exc)
        if asked:
            wait = max(wait, asked)
        return min(wait, self.max_delay)

    def call(self, function, call):
        attempt = 1
        while True:
            try:
                return function()
            except Exception as exc:  # every SDK failure ends as a MeshError, never a traceback
                if attempt >= self.attempts or not is_retriable(exc):
                    raise translate(exc, call, attempts=attempt)
                self.sleep(self.delay(attempt, exc))
                attempt += 1
