"""Stand-in for the get-pip script that ansible-test downloads to seed its sanity virtualenvs.

ansible-test fetches that script from a host outside the package registries this project
may reach. This stand-in does the same job from what is at hand: the interpreter's bundled
pip (ensurepip), then the exact pip version ansible-test asked for, from PyPI.
`make sanity` copies it to ~/.ansible/test/cache/ when the real script is not cached.
"""

import subprocess
import sys

# ansible-test passes pip options and pinned packages, plus flags meant for get-pip itself.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                      stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
