# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Independent requests at the same time: over a WAN each round trip costs 100 ms or more.

Threads, not processes: the work is waiting on the network, and a module may not
start subprocesses of its own. ``threading`` is already loaded by ansible-core,
so this adds no import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.client import MAX_CONNECTIONS

# As many requests in flight as the client keeps connections.
MAX_WORKERS = MAX_CONNECTIONS


def run_all(calls, workers=MAX_WORKERS):
    """Call each function with at most ``workers`` running at once; return their results in order.

    Calls start in order, and none starts after one has failed; every call
    that started is waited for. The exception raised is the one of the first
    call in order that failed, so the error is the same as if they had run
    one after another: each call before it had already started, and finished.
    """
    calls = list(calls)
    results = [None] * len(calls)
    errors = [None] * len(calls)
    if len(calls) < 2 or workers < 2:
        for index, call in enumerate(calls):
            results[index] = call()
        return results
    lock = threading.Lock()
    state = {"next": 0, "failed": False}

    def worker():
        while True:
            with lock:
                index = state["next"]
                if index >= len(calls) or state["failed"]:
                    return
                state["next"] = index + 1
            try:
                results[index] = calls[index]()
            except BaseException as exc:  # re-raised in the caller's thread below
                errors[index] = exc
                with lock:
                    state["failed"] = True

    threads = [threading.Thread(target=worker, name="ack-servicemesh-%d" % n)
               for n in range(min(workers, len(calls)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results
