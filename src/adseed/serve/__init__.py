"""The HTTP edge: bearer-token authentication, the Files API, and (later) serving endpoints."""
