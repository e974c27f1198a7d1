"""``python -m rfdesign`` runs the command line, with the same import path as the ``rfdesign`` command.

``python -m`` puts the current directory first on ``sys.path``; the console
script does not. A model source such as ``mymodels:Net`` would otherwise
import ``./mymodels.py`` (or a ``./torch.py`` shadowing the real one) only
when run this way. It is removed before anything else is imported; a user's
own module is found through ``PYTHONPATH`` or an install (docs/interop.md).
"""

import os
import sys

if sys.path and not getattr(sys.flags, "safe_path", False):
    try:
        first = os.path.realpath(sys.path[0] or os.curdir)
        if first == os.path.realpath(os.getcwd()):
            del sys.path[0]
    except OSError:  # the current directory was removed
        pass

from rfdesign.cli import main  # noqa: E402

main()
