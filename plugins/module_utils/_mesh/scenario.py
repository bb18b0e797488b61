# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the ack.servicemesh collection. Its API may change
# at any time, even in a patch release. Do not import it from other collections.

"""The roles' scenario variables as mesh_routing's ``services`` list.

Kept apart from the planner on purpose. The roles call it through the scenario_services filter on the controller,
and to find any one filter of a collection ansible-core loads every filter file of it, compiling what they import
from source on each run (its collection loader keeps no bytecode). So this file imports nothing heavier than the
error type, and the filter files import the planner, the validator and the simulator only when called.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.ack.servicemesh.plugins.module_utils._mesh.errors import MeshError


def scenario_services(services, weights=None, user_route=None, fault=None, default_subset="v1", user_match="header",
                      subset_label="version", user_route_name="user-override", fault_route_name="fault-injection",
                      fault_expires_in=None):
    """The roles' scenario variables as mesh_routing's ``services``: each route present on its service only.

    A fault for the user whom the user route sends elsewhere goes into the user route itself: a separate fault
    route for that user would sit below the user route and never fire, and above it would undo its destination.
    """
    if user_route_name == fault_route_name:
        # One name for both would make the second one (absent on most services) remove the first.
        raise MeshError("must differ from the fault route's name (servicemesh_fault_route_name)",
                        field="user_route_name", value=user_route_name)
    weights = weights or {}
    user_route = user_route or {}
    fault = fault or {}
    result = []
    for service in services:
        name = service["name"]
        routes = [{"name": user_route_name, "state": "absent"}, {"name": fault_route_name, "state": "absent"}]
        fault_part = None
        if fault.get("service") == name:
            fault_part = {"fault": dict((k, fault[k]) for k in ("delay", "abort") if fault.get(k))}
            if fault_expires_in is not None:
                fault_part["expires_in"] = fault_expires_in
        # A fault for every request goes on the default route (see routes.apply_route).
        unscoped = fault_part is not None and boolean(fault.get("all_users") or False, strict=False)
        if fault_part is not None and not unscoped and not fault.get("user"):
            raise MeshError("the fault has no user: set the user whose requests to %s it hits (fault_delay_user, "
                            "fault_abort_user), or all_users (fault_delay_all_users, fault_abort_all_users) to true "
                            "to hit every request" % name)
        merged = (fault_part is not None and not unscoped and user_route.get("service") == name
                  and user_route.get("user") == fault.get("user"))
        if user_route.get("service") == name:
            routes[0] = {"name": user_route_name, "user": user_route.get("user"), "user_match": user_match,
                         "subset": user_route.get("subset")}
            if merged:
                routes[0].update(fault_part)
        if fault_part is not None and not merged:
            routes[1] = dict({"name": fault_route_name}, **fault_part)
            if not unscoped:
                routes[1].update(user=fault.get("user"), user_match=user_match)
        result.append({"host": name, "subsets": list(service.get("subsets") or []), "subset_label": subset_label,
                       "weights": weights.get(name) or {default_subset: 100}, "routes": routes,
                       "allow_unscoped_fault": unscoped})
    return result
