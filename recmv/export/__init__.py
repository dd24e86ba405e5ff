"""`recmv extract`: registered open garment meshes per frame, curves, GLB, videos and a manifest."""
