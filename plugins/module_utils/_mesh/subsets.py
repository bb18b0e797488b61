# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""Refuse routes to subsets that no DestinationRule defines (Istio's IST0101: such traffic gets 503)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError
from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.validate import validate_cross_refs


def check_namespace(mesh, namespace):
    """Fail naming the namespace when it does not exist.

    A LIST in a missing namespace answers an empty list, which would make every
    subset look undefined; asked only when something is missing, so no request
    is spent (and no permission on namespaces needed) on the usual path. A 403
    leaves the question open and the caller reports what it found.
    """
    response = mesh.client.request("GET", "/api/v1/namespaces/%s" % namespace)
    if response.status == 404:
        raise MeshError("the namespace does not exist (create it first, or check the name)",
                        field="namespace", value=namespace, status=404, reason="NamespaceNotFound")


class SubsetCheck:
    """Lists the namespace's DestinationRules once, when a change first needs them."""

    def __init__(self, mesh, namespace):
        self.mesh = mesh
        self.namespace = namespace
        self._rules = None

    def rules(self):
        if self._rules is None:
            items = self.mesh.resources("DestinationRule").list(self.namespace)
            self._rules = [item.get("spec") or {} for item in items]
        return self._rules

    def check(self, vs_spec, path="spec"):
        if not any(d.get("destination", {}).get("subset")
                   for route in vs_spec.get("http") or [] if isinstance(route, dict)
                   for d in route.get("route") or [] if isinstance(d, dict)):
            return
        problems = validate_cross_refs(vs_spec, self.rules(), path=path, namespace=self.namespace)
        if problems and not self.rules():
            check_namespace(self.mesh, self.namespace)
        if problems and self.mesh.check_mode:
            # In check mode the DestinationRules an earlier task would create do not exist yet.
            for problem in problems.items:
                self.mesh.module.warn("%s (not fatal in check mode)" % problem)
            return
        problems.raise_if_any()
