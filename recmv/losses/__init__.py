"""Loss terms, one plain function each (REC-MV §5); weights live in the fit config."""
