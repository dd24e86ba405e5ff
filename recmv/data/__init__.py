"""Subject folders: REC-MV's preprocessed layout plus subject.json, their readers, writers and checks."""
