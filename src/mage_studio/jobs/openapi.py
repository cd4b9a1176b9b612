"""OpenAPI request bodies for routes that read their body by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def _resolve(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            name = reference.removeprefix("#/$defs/")
            return _resolve(definitions[name], definitions)
        return {key: _resolve(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, definitions) for item in node]
    return node


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Return the model's JSON schema (client field names) with `$defs` inlined."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    resolved: dict[str, Any] = _resolve(schema, definitions)
    return resolved


def json_body(*models: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON body that matches one of `models`."""
    schemas = [inline_schema(model) for model in models]
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def multipart_body(
    files: dict[str, str], fields: dict[str, dict[str, Any]], required: list[str]
) -> dict[str, Any]:
    """`openapi_extra` documenting a multipart/form-data body."""
    properties: dict[str, Any] = {
        name: {"type": "string", "format": "binary", "description": description}
        for name, description in files.items()
    }
    properties.update(fields)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": properties,
                        "required": required,
                    }
                }
            },
        }
    }
