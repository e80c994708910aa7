"""Image generation: seed photo + brand image + prompt → an ad PNG in a standard format."""
