"""Assignment authoring: templates/<assignment>/ to student and solution bundles."""
