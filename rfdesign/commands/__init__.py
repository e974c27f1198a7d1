"""The work behind each command, from plain options to the text it prints: one code path for the CLI and the service.

``rfdesign analyze``, ``check``, ``solve`` and ``propose`` each parse their
options, call the library, and render the result in the format asked for.
Everything after the parsing of the command line lives here, so that the
HTTP service (:mod:`rfdesign.service`) answers a request with exactly the
text the command prints for it:

* :mod:`~rfdesign.commands.args`: option values written as on the command line (``224,224``, ``200:220``);
* :mod:`~rfdesign.commands.render`: aligned tables, JSON text, and the analysis table, markdown and CSV;
* :mod:`~rfdesign.commands.analyze`: ``analyze`` in every format;
* :mod:`~rfdesign.commands.check`: ``check`` outcomes and their text, JSON, SARIF and GitHub renderings;
* :mod:`~rfdesign.commands.solve`: ``solve`` / ``propose`` problems, and their table, JSON and YAML renderings.

Nothing here prints or exits: the CLI and the service do that.
"""
