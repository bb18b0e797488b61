# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: version_subsets
short_description: Turn a list of version names into DestinationRule subsets
version_added: 0.1.0
description:
  - "Maps V([v1, v2]) to V({v1: {version: v1}, v2: {version: v2}}), the subsets form that
    M(ack.servicemesh.destination_rule) accepts, selecting each subset's pods by one label."
author:
  - ack.servicemesh contributors (@ack-servicemesh)
positional: label
options:
  _input:
    description: Subset names, each also the value of the label.
    type: list
    elements: str
    required: true
  label:
    description: The pod label that selects each subset.
    type: str
    default: version
"""

EXAMPLES = r"""
- name: Subsets v1, v2 and v3 of reviews by the version label
  ack.servicemesh.destination_rule:
    name: reviews
    host: reviews
    subsets: "{{ ['v1', 'v2', 'v3'] | ack.servicemesh.version_subsets }}"
"""

RETURN = r"""
_value:
  description: Subset name to labels.
  type: dict
"""

from ansible.errors import AnsibleFilterError


def version_subsets(names, label="version"):
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError("version_subsets: expects a list of subset names, got %r" % (names,))
    return dict((str(name), {label: str(name)}) for name in names)


class FilterModule(object):
    def filters(self):
        return {"version_subsets": version_subsets}
