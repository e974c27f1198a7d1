"""The spec writer, where the importers and exporters have always found it (see :mod:`rfdesign.spec.writer`)."""

from rfdesign.spec.writer import dump, layer_dict, spec_dict

__all__ = ["dump", "layer_dict", "spec_dict"]
