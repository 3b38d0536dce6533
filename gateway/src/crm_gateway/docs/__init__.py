"""The public API's documentation: the services' OpenAPI documents merged into one, and its pages."""
