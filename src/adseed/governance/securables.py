"""Securable objects and privileges, modelled on Unity Catalog's.

The hierarchy is catalog → schema → (volume | table). Volumes are folders under
``/Volumes``; tables are the workspace's Delta tables seen *per schema*: ``main.bricks.assets``
is the rows of ``assets`` whose volume lies in ``main.bricks`` (one physical table,
many governed views, the way a lakehouse shares one metastore table format).
A privilege granted on an object holds for everything below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from adseed.errors import InvalidInput
from adseed.storage.volumes import check_name


class Privilege(StrEnum):
    USE_CATALOG = "USE CATALOG"
    USE_SCHEMA = "USE SCHEMA"
    READ_VOLUME = "READ VOLUME"
    WRITE_VOLUME = "WRITE VOLUME"
    SELECT = "SELECT"
    MODIFY = "MODIFY"
    ALL_PRIVILEGES = "ALL PRIVILEGES"

    @classmethod
    def parse(cls, text: str) -> Privilege:
        normal = " ".join(str(text).replace("_", " ").upper().split())
        for p in cls:
            if p.value == normal:
                return p
        known = ", ".join(p.value for p in cls)
        raise InvalidInput(f"unknown privilege {text!r}: expected one of {known}")


class Kind(StrEnum):
    CATALOG = "catalog"
    SCHEMA = "schema"
    VOLUME = "volume"
    TABLE = "table"


# Tables that exist per schema (rows belong to a schema through their volume).
GOVERNED_TABLES = ("assets", "asset_embeddings", "generations", "copy", "events")

# Which privileges may be granted on which kind of object (UC's applicability rules).
GRANTABLE: dict[Kind, frozenset[Privilege]] = {
    Kind.CATALOG: frozenset(Privilege),
    Kind.SCHEMA: frozenset(Privilege) - {Privilege.USE_CATALOG},
    Kind.VOLUME: frozenset(
        {Privilege.READ_VOLUME, Privilege.WRITE_VOLUME, Privilege.ALL_PRIVILEGES}
    ),
    Kind.TABLE: frozenset({Privilege.SELECT, Privilege.MODIFY, Privilege.ALL_PRIVILEGES}),
}


@dataclass(frozen=True, order=True)
class Securable:
    """A catalog, schema, volume or table, by kind and dotted full name."""

    kind: Kind
    name: str

    @classmethod
    def parse(cls, kind: str, name: str) -> Securable:
        try:
            k = Kind(str(kind).lower())
        except ValueError:
            raise InvalidInput(
                f"unknown object kind {kind!r}: expected catalog, schema, volume or table"
            ) from None
        parts = str(name).split(".")
        want = {Kind.CATALOG: 1, Kind.SCHEMA: 2, Kind.VOLUME: 3, Kind.TABLE: 3}[k]
        if len(parts) != want:
            raise InvalidInput(f"invalid {k.value} name {name!r}: expected {want} dotted part(s)")
        for part in parts:
            check_name(part, k.value)
        if k is Kind.TABLE and parts[2] not in GOVERNED_TABLES:
            raise InvalidInput(
                f"unknown table {parts[2]!r}: expected one of {', '.join(GOVERNED_TABLES)}"
            )
        return cls(k, ".".join(parts))

    @classmethod
    def volume(cls, full_name: str) -> Securable:
        return cls.parse("volume", full_name)

    @classmethod
    def table(cls, schema: str, table: str) -> Securable:
        return cls.parse("table", f"{schema}.{table}")

    @property
    def catalog(self) -> str:
        return self.name.split(".")[0]

    @property
    def schema(self) -> str | None:
        parts = self.name.split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else None

    def lineage(self) -> list[Securable]:
        """This object and every ancestor, nearest first: grants on any of them apply."""
        chain = [self]
        if self.kind in (Kind.VOLUME, Kind.TABLE):
            chain.append(Securable(Kind.SCHEMA, self.schema or ""))
        if self.kind is not Kind.CATALOG:
            chain.append(Securable(Kind.CATALOG, self.catalog))
        return chain

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"
