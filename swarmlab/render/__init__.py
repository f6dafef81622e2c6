"""Pure renderers: files and scripts built from a LabSpec."""
