"""`rfdesign check` from Python: findings are data (code, severity, layer, message, numbers).

    python examples/design_review.py
"""

from rfdesign.review.config import ReviewConfig
from rfdesign.review.runner import review
from rfdesign.spec import parse_spec

SPEC = """
name: segmentation-head
input: {size: [128, 128], channels: 3}
target: {receptive_field: {min: 100}}
layers:
  - {op: conv, out: 32, kernel: 3, stride: 2, padding: 1}
  - {op: conv, out: 64, kernel: 3, dilation: 2, padding: 2}
  - {op: conv, out: 64, kernel: 3, dilation: 2, padding: 2}
  - {op: conv, out: 64, kernel: 3, dilation: 2, padding: 2}
"""

result = review(parse_spec(SPEC, "head.yaml"), ReviewConfig(ignore=("RF106",)))
for finding in result.findings:
    print(f"{finding.code} {finding.name} [{finding.severity}] at {finding.location}: {finding.message}")
    print(f"    fix: {finding.fix}")
print(f"{result.count('error')} error(s), {result.count('warning')} warning(s)")
