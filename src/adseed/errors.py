"""The one error hierarchy of adseed.

Library code raises these and never prints or exits; the edges translate them:
the CLI maps ``exit_code`` to its process exit status, the HTTP server maps
``http_status`` to a response status.
"""

from __future__ import annotations


class AdseedError(Exception):
    """Base of every error adseed raises on purpose."""

    exit_code = 1
    http_status = 500


class ConfigError(AdseedError):
    """Settings that cannot be resolved (bad file, bad value, unknown backend)."""

    exit_code = 2
    http_status = 500


class InvalidInput(AdseedError):
    """A request or argument that is malformed: the caller must change it."""

    exit_code = 2
    http_status = 400


class InvalidName(InvalidInput):
    """A catalog, schema, volume or file name that is not allowed (``..``, ``/``, NUL …)."""


class InvalidPath(InvalidInput):
    """A volume path that does not parse or would leave its volume."""


class NotFound(AdseedError):
    """A volume path, table or asset that does not exist."""

    exit_code = 3
    http_status = 404


class RejectedFile(AdseedError):
    """An input file that ingest refuses (not an image, truncated, too many pixels …)."""

    exit_code = 4
    http_status = 422


class BackendError(AdseedError):
    """A model or provider failed in a way the caller cannot fix by changing the request."""

    exit_code = 5
    http_status = 502


class StateError(AdseedError):
    """The workspace is not in a state that allows the operation (not initialised …)."""

    exit_code = 6
    http_status = 409


class Unauthenticated(AdseedError):
    """No credentials, or credentials that name no principal."""

    exit_code = 7
    http_status = 401


class PermissionDenied(AdseedError):
    """The acting principal lacks a privilege. Over HTTP the body never says which."""

    exit_code = 8
    http_status = 403


class GenerationRefused(BackendError):
    """A provider's safety system refused the prompt or the images.

    Retrying the same request cannot help (and would be billed again), so it is never
    retried; the caller must change the prompt or the photos.
    """

    http_status = 422


class QuotaExceeded(BackendError):
    """The provider account has no quota or credit left: an operator must act, not a retry."""

    http_status = 503


class ProviderRejected(BackendError):
    """The provider refused the request itself (bad key, invalid input, unknown model)."""


class ProviderUnavailable(BackendError):
    """The provider kept failing transiently (429, 5xx, timeouts) past the retry budget."""

    http_status = 503
