"""Local HTTP servers that speak hosted providers' wire formats, for the backend tests."""
