"""Vocabulary shared by every layer: garment types, feature curves, ATR labels, body joint counts.

These replace REC-MV's per-subject code tables (utils/constant.py); per-subject choices live in
each subject's `subject.json`, and these are only the defaults and the vocabulary they draw on.
"""

from __future__ import annotations

GARMENT_TYPES = (
    "short_sleeve_upper",
    "long_sleeve_upper",
    "no_sleeve_upper",
    "tube",
    "skirt",
    "long_pants",
    "short_pants",
    "dress",
)

UPPER_GARMENTS = ("short_sleeve_upper", "long_sleeve_upper", "no_sleeve_upper", "tube")
LOWER_GARMENTS = ("skirt", "long_pants", "short_pants")
ONE_PIECE_GARMENTS = ("dress",)
# One piece of cloth around both thighs: it hangs from the hips rather than following either leg.
LEG_SPANNING_GARMENTS = ("skirt", "dress")

# Feature-curve names, in REC-MV's order.
CURVE_NAMES = (
    "neck",
    "left_cuff",
    "right_cuff",
    "upper_bottom",
    "bottom_curve",
    "left_pant",
    "right_pant",
)

# Curves a garment owns: warped with its latent code, projected in its loss, snapped to its SDF
# (REC-MV's FL_EXTRACT).
CURVES_OWNED = {
    "short_sleeve_upper": ("neck", "left_cuff", "right_cuff", "upper_bottom"),
    "long_sleeve_upper": ("neck", "left_cuff", "right_cuff", "upper_bottom"),
    "no_sleeve_upper": ("neck", "left_cuff", "right_cuff", "bottom_curve"),
    "dress": ("neck", "left_cuff", "right_cuff", "bottom_curve"),
    "tube": ("neck", "bottom_curve"),
    "skirt": ("bottom_curve",),
    "long_pants": ("left_pant", "right_pant"),
    "short_pants": ("left_pant", "right_pant"),
}

# Curves that bound a garment's open mesh (REC-MV's GARMENT_FL_MATCH). The waist curve
# `upper_bottom` is owned by the upper garment but also bounds the lower one.
CURVES_BOUNDING = {
    "short_sleeve_upper": ("neck", "left_cuff", "right_cuff", "upper_bottom"),
    "long_sleeve_upper": ("neck", "left_cuff", "right_cuff", "upper_bottom"),
    "no_sleeve_upper": ("neck", "left_cuff", "right_cuff", "bottom_curve"),
    "dress": ("neck", "left_cuff", "right_cuff", "bottom_curve"),
    "tube": ("neck", "bottom_curve"),
    "skirt": ("upper_bottom", "bottom_curve"),
    "long_pants": ("upper_bottom", "left_pant", "right_pant"),
    "short_pants": ("upper_bottom", "left_pant", "right_pant"),
}

# ATR label ids of Self-Correction-Human-Parsing (18 classes).
ATR_LABELS = {
    "background": 0,
    "hat": 1,
    "hair": 2,
    "sunglasses": 3,
    "upper_clothes": 4,
    "skirt": 5,
    "pants": 6,
    "dress": 7,
    "belt": 8,
    "left_shoe": 9,
    "right_shoe": 10,
    "face": 11,
    "left_leg": 12,
    "right_leg": 13,
    "left_arm": 14,
    "right_arm": 15,
    "bag": 16,
    "scarf": 17,
}

# The ATR label a garment of each type is parsed as.
GARMENT_ATR_LABEL = {
    "short_sleeve_upper": 4,
    "long_sleeve_upper": 4,
    "no_sleeve_upper": 4,
    "tube": 4,
    "skirt": 5,
    "long_pants": 6,
    "short_pants": 6,
    "dress": 7,
}

# Garment masks for training, by REC-MV's groups (dataset.obtain_parsing_mask): the upper group also
# holds head, arms, bag and scarf because REC-MV's upper SDF models them too.
ATR_TRAINING_GROUPS = {
    "upper": (1, 2, 3, 4, 11, 14, 15, 16, 17),
    "bottom": (5, 6, 8),
    "upper_bottom": (1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 15, 16, 17),
}

# Garment regions for 2D curve extraction (tools/parsing_mask_to_fl.py): clothing only.
ATR_CLOTHING_GROUPS = {
    "upper": (4, 16, 17),
    "bottom": (5, 6, 8),
    "upper_bottom": (4, 5, 6, 7, 8, 16, 17),
}

# Body-camera depth tolerance (metres) for 2D curve visibility (REC-MV's ZBUF_THRESHOLD).
CURVE_ZBUF_THRESHOLD = {
    "neck": 0.1,
    "left_cuff": 0.05,
    "right_cuff": 0.05,
    "upper_bottom": 0.08,
    "bottom_curve": 0.1,
    "left_pant": 0.05,
    "right_pant": 0.05,
}

# Initial radial scale of each curve's template band (REC-MV's INI_FL_SCALE).
CURVE_INITIAL_SCALE = {
    "neck": 1.5,
    "left_cuff": 1.5,
    "right_cuff": 1.5,
    "upper_bottom": 2.0,
    "bottom_curve": 2.0,
    "left_pant": 1.5,
    "right_pant": 1.5,
}

BODY_MODELS = ("anny", "smpl")
BODY_JOINT_COUNTS = {"anny": 38, "smpl": 24}


def subject_curves(garments: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The curves a subject with these garments has, in CURVE_NAMES order (REC-MV's FL_INFOS)."""
    names = {c for g in garments for c in CURVES_BOUNDING[g]} | {c for g in garments for c in CURVES_OWNED[g]}
    return tuple(c for c in CURVE_NAMES if c in names)


def curve_owners(garments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Curve name -> the garment that owns it, for a subject with these garments.

    The first garment listing a curve in CURVES_OWNED owns it; a bounding curve nobody owns (the waist
    of a lone skirt) goes to the first garment it bounds.
    """
    owners: dict[str, str] = {}
    for garment in garments:
        for curve in CURVES_OWNED[garment]:
            owners.setdefault(curve, garment)
    for garment in garments:
        for curve in CURVES_BOUNDING[garment]:
            owners.setdefault(curve, garment)
    return owners
