# SPDX-License-Identifier: MIT
"""Makes the package importable from the checkout (bindings/python) without installing it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
