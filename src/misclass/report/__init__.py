"""The shareable HTML report: sections (one module each under ``sections/``), figures, the builder."""
