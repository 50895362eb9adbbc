"""The project's one root exception, `OnlineRetailError`, and the translation of "AWS
cannot be reached" into it.

Every exception the project raises derives from `OnlineRetailError`, so a caller that
wants "a mistake in the input or the environment, not a bug" catches one class: the
command line does, once, and prints its one-line `str`. An error names what it is
about where it knows it: the `line` of a file or request, the `field` that failed, or
the `setting` (an environment variable or option) to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class OnlineRetailError(Exception):
    """A mistake in the input or the environment, said in one line."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        setting: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.line, self.field, self.setting = message, line, field, setting

    def __str__(self) -> str:
        where = [f"line {self.line}" if self.line is not None else "", self.field or ""]
        prefix = ", ".join(part for part in where if part)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.setting:
            text += f" (check {self.setting})"
        return " ".join(text.split())  # one line, whatever the message holds


@contextmanager
def reaching_aws(service: str) -> Iterator[None]:
    """Raise an OnlineRetailError naming the setting to check when `service` cannot be
    reached or no credentials are found, instead of botocore's traceback."""
    from botocore.exceptions import (  # botocore ships with boto3 in every Lambda runtime
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        yield
    except EndpointConnectionError as error:
        raise OnlineRetailError(
            f"cannot reach {service} at {error.kwargs.get('endpoint_url')}",
            setting="AWS_ENDPOINT_URL",
        ) from error
    except NoCredentialsError as error:
        raise OnlineRetailError(
            f"no AWS credentials for {service}", setting="AWS_ACCESS_KEY_ID or AWS_PROFILE"
        ) from error
    except NoRegionError as error:
        raise OnlineRetailError(
            f"no AWS region for {service}", setting="AWS_DEFAULT_REGION"
        ) from error
