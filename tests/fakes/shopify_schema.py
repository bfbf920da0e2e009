"""Shopify's published Admin GraphQL schema, for the fake Admin API to hold every request to.

Shopify ships its Admin introspection in the npm package `@shopify/dev-mcp`
(`dist/data/admin_<version>.json.gz`). It is installed at test time into `var/npm/shopify-dev-mcp`
(ignored by git; the schema is never committed) with `npm install --prefix`, once per checkout.
Without npm or the registry the schema is unavailable: tests that need it skip with the reason,
and fail instead under REQUIRE_SERVICES=1 (CI).

Beyond the standard introspection, the file carries Shopify's access metadata: `requiredAccess`
(prose such as "`read_orders` access scope, `read_marketplace_orders` access scope or
`read_quick_sale` access scope.") on types and fields, and under `offline_scopes` the same rules
as lists of scope handles (`offlineScopes`). A list is a choice (any one scope will do), except
where the prose says "X as well as any of Y, Z": X is needed, then one of the rest. Write scopes
imply their read scope.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_client_schema,
    get_named_type,
    is_leaf_type,
    validate,
    value_from_ast_untyped,
)

PACKAGE = "@shopify/dev-mcp"
PACKAGE_VERSION = "1.16.0"
CACHE_DIR = Path(__file__).resolve().parents[2] / "var" / "npm" / "shopify-dev-mcp"
NPM_TIMEOUT_SECONDS = 300

_install_lock = threading.Lock()


def schema_path(version: str) -> Path:
    return CACHE_DIR / "node_modules" / "@shopify" / "dev-mcp" / "dist" / "data" / f"admin_{version}.json.gz"


def _install() -> str:
    """Install the package into the cache; returns why it could not, or ""."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # One install at a time, across processes too (two pytest runs of one checkout).
    with open(CACHE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = CACHE_DIR / ".installed"
        if marker.is_file() and marker.read_text() == PACKAGE_VERSION:
            return ""
        try:
            result = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(CACHE_DIR),
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--omit=dev",
                    "--no-save",
                    f"{PACKAGE}@{PACKAGE_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_SECONDS,
                env={**os.environ, "npm_config_update_notifier": "false"},
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"npm install {PACKAGE}@{PACKAGE_VERSION} failed: {error}"
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            return f"npm install {PACKAGE}@{PACKAGE_VERSION} failed: {' '.join(tail)}"
        marker.write_text(PACKAGE_VERSION)
    return ""


@dataclass(frozen=True)
class Access:
    """What a type or field needs: every scope of `all_of`, and one of `any_of` (when not empty)."""

    all_of: tuple[str, ...]
    any_of: tuple[str, ...]
    text: str

    def allows(self, granted: frozenset[str]) -> bool:
        return all(scope in granted for scope in self.all_of) and (
            not self.any_of or any(scope in granted for scope in self.any_of)
        )


def _access(item: dict) -> Access | None:
    scopes = tuple(dict.fromkeys(str(scope) for scope in item.get("offlineScopes") or ()))
    if not scopes:
        return None
    text = str(item.get("requiredAccess") or "")
    if " as well as any of " in text and len(scopes) > 1:
        return Access(all_of=scopes[:1], any_of=scopes[1:], text=text)
    return Access(all_of=(), any_of=scopes, text=text)


def granted_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes held, with the read scope that each write scope implies."""
    held = {scope.strip() for scope in scopes if scope and scope.strip()}
    held |= {"read_" + scope.removeprefix("write_") for scope in held if scope.startswith("write_")}
    return frozenset(held)


class CostError(Exception):
    """A connection without `first` or `last`, which Shopify refuses outside bulk operations."""


@dataclass
class Denied:
    path: tuple[str, ...]
    field: str
    access: Access


class AdminSchema:
    def __init__(self, introspection: dict, version: str) -> None:
        self.version = version
        self.schema: GraphQLSchema = build_client_schema(introspection["data"])
        # Shopify's own schema breaks one of graphql-core's schema consistency rules six times
        # (implementations deprecate fields their interface does not, e.g. ChannelDefinition.id):
        # documents are validated without that self-check.
        self.schema._validation_errors = []  # type: ignore[attr-defined]
        self.type_access: dict[str, Access] = {}
        self.field_access: dict[tuple[str, str], Access] = {}
        for item in (introspection.get("offline_scopes") or {}).get("items") or ():
            access = _access(item)
            if access is None:
                continue
            if item.get("type") == "type":
                self.type_access[item["typeName"]] = access
            elif item.get("type") == "field":
                self.field_access[(item["typeName"], item["fieldName"])] = access

    # --- validation ---

    def validate(self, document: DocumentNode) -> list[GraphQLError]:
        return validate(self.schema, document)

    # --- access ---

    def denied(self, document: DocumentNode, scopes: Iterable[str]) -> list[Denied]:
        """Every field of the document that the granted scopes do not open, with its path."""
        granted = granted_scopes(scopes)
        fragments = _fragments(document)
        found: list[Denied] = []
        for operation in _operations(document):
            mutation = operation.operation == OperationType.MUTATION
            root = self.schema.mutation_type if mutation else self.schema.query_type
            self._walk_access(operation.selection_set, root, (), granted, fragments, found)
        return found

    def _walk_access(self, selection_set, parent, path, granted, fragments, found) -> None:
        for field, owner in _fields(selection_set, parent, self.schema, fragments):
            name = field.name.value
            if name.startswith("__") or not hasattr(owner, "fields") or name not in owner.fields:
                continue
            here = (*path, (field.alias or field.name).value)
            named = get_named_type(owner.fields[name].type)
            for access in (self.field_access.get((owner.name, name)), self.type_access.get(named.name)):
                if access is not None and not access.allows(granted):
                    found.append(Denied(here, name, access))
                    break
            else:
                if field.selection_set is not None:
                    self._walk_access(field.selection_set, named, here, granted, fragments, found)

    # --- requested cost ---

    def requested_cost(self, document: DocumentNode, variables: dict) -> int:
        """By Shopify's rules: scalar and enum 0, object 1, connection 2 + first × one node,
        interfaces and unions the dearest of their selections, a mutation 10."""
        fragments = _fragments(document)
        total = 0
        for operation in _operations(document):
            if operation.operation == OperationType.MUTATION:
                total += 10 * sum(isinstance(s, FieldNode) for s in operation.selection_set.selections)
            else:
                total += self._cost(operation.selection_set, self.schema.query_type, variables, fragments)
        return total

    def _cost(self, selection_set, parent, variables, fragments) -> int:
        total, alternatives = 0, [0]
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, variables, fragments)
            else:
                fragment = (
                    selection if isinstance(selection, InlineFragmentNode) else fragments.get(selection.name.value)
                )
                if fragment is None:
                    continue
                condition = fragment.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                alternatives.append(self._cost(fragment.selection_set, target, variables, fragments))
        return total + max(alternatives)

    def _field_cost(self, field: FieldNode, parent, variables, fragments) -> int:
        name = field.name.value
        if name.startswith("__") or not hasattr(parent, "fields") or name not in parent.fields:
            return 0
        named = get_named_type(parent.fields[name].type)
        if is_leaf_type(named) or field.selection_set is None:
            return 0
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
            arguments = {a.name.value: value_from_ast_untyped(a.value, variables) for a in field.arguments or ()}
            size = arguments.get("first", arguments.get("last"))
            if size is None:
                raise CostError(f"you must provide one of first or last for the {name} connection")
            return 2 + int(size) * self._node_cost(field.selection_set, named, variables, fragments)
        return 1 + self._cost(field.selection_set, named, variables, fragments)

    def _node_cost(self, selection_set, connection: GraphQLObjectType, variables, fragments) -> int:
        node_type = get_named_type(connection.fields["nodes"].type) if "nodes" in connection.fields else None
        costs = [0]
        for field, _ in _fields(selection_set, connection, self.schema, fragments):
            if field.name.value == "nodes" and field.selection_set is not None:
                costs.append(1 + self._cost(field.selection_set, node_type, variables, fragments))
            elif field.name.value == "edges" and field.selection_set is not None:
                edge = get_named_type(connection.fields["edges"].type)
                for inner, _ in _fields(field.selection_set, edge, self.schema, fragments):
                    if inner.name.value == "node" and inner.selection_set is not None:
                        costs.append(1 + self._cost(inner.selection_set, node_type, variables, fragments))
        return max(costs)

    def connection_depths(self, document: DocumentNode) -> list[int]:
        """How deep each connection of a (bulk) query sits among connections: 1 at the top."""
        depths: list[int] = []
        fragments = _fragments(document)

        def walk(selection_set, parent, depth):
            for field, owner in _fields(selection_set, parent, self.schema, fragments):
                name = field.name.value
                if not hasattr(owner, "fields") or name not in owner.fields or field.selection_set is None:
                    continue
                named = get_named_type(owner.fields[name].type)
                inner = depth
                if named.name.endswith("Connection"):
                    inner = depth + 1
                    depths.append(inner)
                walk(field.selection_set, named, inner)

        for operation in _operations(document):
            walk(operation.selection_set, self.schema.query_type, 0)
        return depths


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _fields(selection_set: SelectionSetNode, parent, schema: GraphQLSchema, fragments):
    """(field, the type it is selected on) for the fields of a selection set, fragments flattened."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection, parent
            continue
        fragment = selection if isinstance(selection, InlineFragmentNode) else None
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
        if fragment is None:
            continue
        condition = fragment.type_condition
        target = schema.get_type(condition.name.value) if condition else parent
        if not isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
            target = parent
        yield from _fields(fragment.selection_set, target, schema, fragments)


_unavailable: dict[str, str] = {}


@cache
def _loaded(version: str) -> AdminSchema | None:
    path = schema_path(version)
    with _install_lock:
        if not path.is_file():
            reason = _install()
            if reason:
                _unavailable[version] = reason
                return None
    if not path.is_file():
        _unavailable[version] = f"{PACKAGE}@{PACKAGE_VERSION} has no Admin schema for {version}"
        return None
    with gzip.open(path) as handle:
        return AdminSchema(json.load(handle), version)


def admin_schema(version: str) -> AdminSchema | None:
    """Shopify's Admin schema for `version`, installing the package on first use; None when it
    cannot be had (unavailable_reason says why)."""
    if os.environ.get("BASKETRY_SHOPIFY_SCHEMA", "").strip() == "off":
        _unavailable[version] = "BASKETRY_SHOPIFY_SCHEMA=off"
        return None
    return _loaded(version)


def unavailable_reason(version: str) -> str:
    return _unavailable.get(version, "")


def schema_or_skip(version: str) -> AdminSchema:
    """The schema, or skip the test with the reason; under REQUIRE_SERVICES=1 fail instead."""
    import pytest

    schema = admin_schema(version)
    if schema is not None:
        return schema
    message = (
        f"Shopify's Admin schema {version} is unavailable ({unavailable_reason(version)}); it comes from the npm "
        f"package {PACKAGE}@{PACKAGE_VERSION}, installed into {CACHE_DIR} on first use"
    )
    if os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"REQUIRE_SERVICES=1 but {message}", pytrace=False)
    pytest.skip(message)
