"""Work on a photo library, files and folders of photos: rank, score cache, sorting into folders, sheets, XMP."""

# The pipeline behind `blurtool rank` (library/rank.py), importable as `from blurtool.library import rank_photos`.
from blurtool.library.rank import (
    MINI,
    SCORES_VERSION,
    Failure,
    RankRecord,
    RankRun,
    SortKey,
    iter_rank,
    model_key,
    pair_shots,
    rank_photos,
    record_from_maps,
    sort_groups,
    sort_records,
    weights_sha256,
)

__all__ = [
    "MINI",
    "SCORES_VERSION",
    "Failure",
    "RankRecord",
    "RankRun",
    "SortKey",
    "iter_rank",
    "model_key",
    "pair_shots",
    "rank_photos",
    "record_from_maps",
    "sort_groups",
    "sort_records",
    "weights_sha256",
]
