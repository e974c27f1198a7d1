"""The library from Python: figures per layer, the box of a unit, and which units see a pixel.

    python examples/analyze_from_python.py
"""

from rfdesign.rf import analyze, unit_box, units_seeing
from rfdesign.spec import load_spec

graph = load_spec("specs/zoo/resnet_v1_50.yaml")
result = analyze(graph)

# the four TF-slim end-points of ResNet-50 v1, with the published figures
for name in ("resnet_v1_50/block1", "resnet_v1_50/block2", "resnet_v1_50/block3", "resnet_v1_50/block4"):
    axis = result.layers[name].axes[0]  # rows; columns are the same for this network
    print(f"{name}: receptive field {axis.receptive_field}, effective stride {axis.effective_stride}, "
          f"effective padding {axis.effective_padding}, shortest path {axis.receptive_field_min}")

out = result.output
print("unit (3, 3) of block4 sees input rows/columns", unit_box(out, (3, 3)))
print("input pixel (112, 112) is seen by block4 units", units_seeing(out, (112, 112), result.input_size))

# the same network analysed at another input size: TF's `same` padding depends on it
bigger = analyze(graph, (321, 321))
print("effective padding at 321:", bigger.output.axes[0].effective_padding)
