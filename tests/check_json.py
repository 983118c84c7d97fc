#!/usr/bin/env python3
"""check_json.py SCHEMA DOCUMENT [PATH=VALUE]...
   check_json.py --trace TRACE STAGES

Validate DOCUMENT (a JSON file, or - for stdin) against SCHEMA with the subset of JSON Schema
that docs/pcomm.schema.json uses (type, enum, required, properties, additionalProperties,
items, oneOf, $ref, minimum, maximum), then check fields: PATH is dotted (stages.1.exit_code),
VALUE a JSON literal (3, "exited", null, true) or ~TEXT for "a string containing TEXT".
Exit 0 when all holds; otherwise print what failed and exit 1. Standard library only.
"""
import json
import sys

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def type_ok(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def validate(value, schema, root, where, errors):
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return validate(value, target, root, where, errors)
    if "oneOf" in schema:
        matches = sum(1 for s in schema["oneOf"] if not validate(value, s, root, where, []))
        if matches != 1:
            errors.append(f"{where}: matches {matches} of oneOf")
        return errors
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, n) for n in names):
            errors.append(f"{where}: {value!r} is not {schema['type']}")
            return errors
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing {key}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                validate(item, props[key], root, f"{where}.{key}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected {key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], root, f"{where}.{i}", errors)
    return errors


def lookup(doc, path):
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def check_trace(path, stages):
    """The --trace timeline: metadata, one complete event per stage, consistent timestamps."""
    doc = json.load(open(path))
    errors = []
    events = doc.get("traceEvents", [])
    spans = [e for e in events if e.get("ph") == "X"]
    if len(spans) != stages:
        errors.append(f"{len(spans)} complete events, expected {stages}")
    for e in spans:
        if not (isinstance(e.get("ts"), (int, float)) and isinstance(e.get("dur"), (int, float))
                and e["ts"] >= 0 and e["dur"] >= 0 and "pid" in e.get("args", {})):
            errors.append(f"bad span {e}")
    ends = [e["ts"] + e["dur"] for e in spans if "ts" in e and "dur" in e]
    for e in events:
        if e.get("ph") == "i" and ends and e["ts"] > max(ends) + 1e6:
            errors.append(f"instant after the end: {e}")
        if e.get("ph") not in ("X", "i", "M"):
            errors.append(f"unexpected phase {e}")
    if not any(e.get("ph") == "i" and e.get("tid") in (2, 3) for e in events):
        errors.append("no output line events")
    for e in errors:
        print(e)
    return 1 if errors else 0


def main():
    if sys.argv[1] == "--trace":
        return check_trace(sys.argv[2], int(sys.argv[3]))
    schema = json.load(open(sys.argv[1]))
    text = sys.stdin.read() if sys.argv[2] == "-" else open(sys.argv[2]).read()
    doc = json.loads(text)
    errors = validate(doc, schema, schema, "$", [])
    for check in sys.argv[3:]:
        path, _, want = check.partition("=")
        try:
            got = lookup(doc, path)
        except (KeyError, IndexError, TypeError):
            errors.append(f"{path}: missing")
            continue
        if want.startswith("~"):
            if not isinstance(got, str) or want[1:] not in got:
                errors.append(f"{path}: {got!r} does not contain {want[1:]!r}")
        elif got != json.loads(want):
            errors.append(f"{path}: {got!r} != {want}")
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
