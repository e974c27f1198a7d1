"""The rule set: importing this package registers every rule."""

from rfdesign.review.rules import (  # noqa: F401
    rf101_rf_below_target,
    rf102_unproductive_layers,
    rf103_unseen_pixels,
    rf104_gridding,
    rf105_misaligned_merge,
    rf106_off_centre,
    rf107_truncated_output,
    rf108_rf_far_beyond_input,
    rf109_border_dominated,
    rf110_cheaper_equivalent,
    rf111_rf_above_target,
    rf112_output_off_target,
)
