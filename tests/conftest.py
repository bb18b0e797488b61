"""Make the checkout importable as ``ansible_collections.ack.servicemesh``.

Ansible loads collection code by that package path, so the tests do too: a
symlink under build/ points back at the repository root.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE = os.path.join(ROOT, "build", "collections")
LINK = os.path.join(TREE, "ansible_collections", "ack", "servicemesh")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(ROOT, LINK)
    except FileExistsError:
        pass

if TREE not in sys.path:
    sys.path.insert(0, TREE)
