"""Field types shared by frames, records and admin payloads."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Room and user ids travel in DynamoDB keys and URLs: keep them to a safe alphabet.
RoomId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@:-]{1,128}$")]
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=80, strip_whitespace=True)]


class StrictModel(BaseModel):
    """Inbound models reject unknown fields: a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_max_length=65536)


class OutModel(BaseModel):
    """Outbound models: serialised without None fields to keep frames small."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)
