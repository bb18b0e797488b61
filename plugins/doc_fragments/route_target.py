# -*- coding: utf-8 -*-
# Copyright: ack.servicemesh contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The VirtualService a route-level module edits, shared by http_route, fault_injection and traffic_shift.
    DOCUMENTATION = r"""
options:
  host:
    description:
      - The service whose traffic is routed, as a short name (V(reviews)) or fully qualified name.
      - Used as the VirtualService's C(hosts) when the module creates it, and as the destination host.
    type: str
    required: true
  virtual_service:
    description: Name of the VirtualService to edit. Defaults to the first label of O(host).
    type: str
  namespace:
    description: Namespace of the VirtualService. Defaults to the kubeconfig context's namespace, else V(default).
    type: str
  check_subsets:
    description:
      - Fail when a destination names a subset that no DestinationRule in the namespace defines for its host
        (traffic to it would get HTTP 503). Costs one read, and only when something is about to change.
    type: bool
    default: true
"""

    USER = r"""
options:
  user:
    description:
      - Match one user, the way BookInfo identifies users.
      - With O(user_match=header) (current Istio) the request header O(user_header) must equal the user.
      - With O(user_match=cookie) (Istio 0.8 and 1.0 apps) the C(Cookie) header must carry the cookie
        C(user_cookie=user), first or after a C(;) and any spaces, as browsers send cookies (C(a=b; user=jason));
        a longer cookie name such as C(xuser) does not match. The regex is C(^(.*?; *)?(user=jason)(;.*)?$).
      - With O(user_match=cookie-0.8) the regex is exactly the one of Istio's 0.8 samples,
        C(^(.*?;)?(user=jason)(;.*)?$), which misses the user when a space follows the C(;).
    type: str
  user_match:
    description: How O(user) is matched.
    type: str
    choices: [header, cookie, cookie-0.8]
    default: header
  user_header:
    description: The header that carries the user name with O(user_match=header).
    type: str
    default: end-user
  user_cookie:
    description: The cookie that carries the user name with O(user_match=cookie) or O(user_match=cookie-0.8).
    type: str
    default: user
"""
