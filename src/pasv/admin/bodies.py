"""What the admin API accepts: request bodies with their limits (anything else is a 400)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=1000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUser(_Body):
    name: Name
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    home: Annotated[str, Field(max_length=4096)] = ""
    perms: Annotated[str, Field(max_length=200)] = "ALL"
    groups: list[Name] = []


class UserChange(_Body):
    password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    home: Annotated[str, Field(max_length=4096)] | None = None
    perms: Annotated[str, Field(max_length=200)] | None = None
    enabled: bool | None = None
    groups: list[Name] | None = None
    settings: dict[Name, str | int | float | bool] = {}
    unset: list[Name] = []


class NewGroup(_Body):
    name: Name
    description: Text = ""


class SettingsChange(_Body):
    settings: dict[Name, str | int | float | bool] = {}
    unset: list[Name] = []


class NewRule(_Body):
    action: Literal["allow", "deny"]
    path: Annotated[str, Field(min_length=1, max_length=4096)]
    perms: Annotated[str, Field(min_length=1, max_length=200)]
    to: Annotated[str, Field(min_length=1, max_length=1000)] = "*"


class NewIpRule(_Body):
    action: Literal["allow", "deny"]
    network: Annotated[str, Field(min_length=1, max_length=100)]
    user: Name | None = None
    group: Name | None = None


class NewBan(_Body):
    address: Annotated[str, Field(min_length=1, max_length=100)]
    minutes: Annotated[float, Field(gt=0, le=10_000_000)] = 60.0
    reason: Text = "Your address is banned by the administrator"


class UsageChange(_Body):
    credit: Annotated[int, Field(ge=0, le=2**62)] | None = None
    rescan: bool = False
