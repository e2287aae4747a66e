"""Process definitions: parsing, validation, layout, version diffs and migration plans of diagrams."""
