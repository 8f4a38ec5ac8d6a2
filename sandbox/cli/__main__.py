"""``python -m sandbox.cli``: the ``agora`` command."""

from sandbox.cli.core import main

main()
