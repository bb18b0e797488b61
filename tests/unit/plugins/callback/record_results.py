# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test helper: write every task result, as the callback sees it, to $RECORD_RESULTS_FILE as JSON."""

import json
import os

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Write task results to a JSON file for tests
description: Test helper of ack.servicemesh.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = []

    def _record(self, result, failed):
        data = json.loads(json.dumps(result._result, cls=AnsibleJSONEncoder))
        data.update(failed=failed, changed=result.is_changed())
        self.results.append(data)

    def v2_runner_on_ok(self, result):
        self._record(result, False)

    def v2_runner_on_skipped(self, result):
        self._record(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, True)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["RECORD_RESULTS_FILE"], "w") as handle:
            json.dump(self.results, handle)
