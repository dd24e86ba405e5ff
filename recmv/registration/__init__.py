"""Template registration: Laplacian boundary editing, non-rigid ICP and remeshing that keep named loops."""
