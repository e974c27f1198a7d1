"""rfdesign: receptive-field design for convolutional networks.

The library returns data; the ``rfdesign`` command renders it. Import what
you need from the subpackages::

    from rfdesign.spec import load_spec
    from rfdesign.rf import analyze

    result = analyze(load_spec("specs/zoo/vgg_16.yaml"))
    print(result.output.axes[0].receptive_field)
"""

__version__ = "0.1.0"
