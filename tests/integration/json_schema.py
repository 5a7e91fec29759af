"""A small JSON Schema checker: the keywords doc/summary.schema.json uses (type, properties,
required, additionalProperties, items, maxItems, enum, const, minimum, maximum, pattern, oneOf,
allOf, local $ref). It returns the problems it finds, each with the path to the value."""

import re
from typing import Any, List

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KNOWN = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties",
         "required", "additionalProperties", "items", "maxItems", "enum", "const", "minimum",
         "maximum", "pattern", "oneOf", "allOf"}


def problems(schema: dict, value: Any, root: dict = None, path: str = "$") -> List[str]:
    root = root if root is not None else schema
    unknown = set(schema) - KNOWN
    if unknown:
        raise ValueError(f"{path}: the checker does not know {sorted(unknown)}")
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return problems(target, value, root, path)
    found: List[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            return [f"{path}: {value!r} is not {' or '.join(types)}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and TYPES["number"](value) and value < schema["minimum"]:
        found.append(f"{path}: {value} is below {schema['minimum']}")
    if "maximum" in schema and TYPES["number"](value) and value > schema["maximum"]:
        found.append(f"{path}: {value} is above {schema['maximum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        found.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: {name} is missing")
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                found += problems(properties[name], item, root, f"{path}.{name}")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += problems(schema["additionalProperties"], item, root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}: {name} is not allowed")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{path}: more than {schema['maxItems']} items")
        for i, item in enumerate(value):
            if "items" in schema:
                found += problems(schema["items"], item, root, f"{path}[{i}]")
    for part in schema.get("allOf", []):
        found += problems(part, value, root, path)
    if "oneOf" in schema:
        matching = [p for p in schema["oneOf"] if not problems(p, value, root, path)]
        if len(matching) != 1:
            found.append(f"{path}: matches {len(matching)} of oneOf's {len(schema['oneOf'])}, "
                         f"not one")
    return found
