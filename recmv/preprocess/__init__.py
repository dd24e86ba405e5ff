"""`recmv prepare`: from a raw video to a subject folder."""
