"""Image operations on one photo and its maps, numpy in / numpy out, no torch and no files (rank: one map's scores)."""
