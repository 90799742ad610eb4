"""The OpenAPI document (issue 9 §5): every operation has a summary, examples of its request (when it has a
body) and of its answers, the error responses it can give in the one error shape, ``Idempotency-Key`` on
every POST and ``If-Match`` on the writes of documents — and every example matches its own schema, so what
an integrator copies from the docs is accepted."""

from __future__ import annotations

import copy

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

DOCUMENTS = ("/api/v1/sales-orders/", "/api/v1/purchase-orders/", "/api/v1/shipments/", "/api/v1/stock-transfers/")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    yield path, method.upper(), operation


def expected_errors(path: str, method: str) -> set[str]:
    codes = {"401", "403", "429"}
    if "{" in path:
        codes.add("404")
    if method in ("POST", "PUT", "PATCH"):
        codes |= {"400", "409", "413", "415"}
    if method == "POST":
        codes.add("422")
    if method == "DELETE":
        codes.add("409")
    if method in ("POST", "PUT", "PATCH") and "{" in path and path.startswith(DOCUMENTS):
        codes.add("412")
    return codes


def resolve(schema, node, direction: str, depth=0):
    """An OpenAPI 3.0 schema as JSON Schema: ``$ref`` inlined, ``nullable`` as a null alternative, and (as
    OpenAPI says) read-only properties not required in a request, write-only ones not in a response."""
    assert depth < 30, "schema nested too deep"
    if isinstance(node, list):
        return [resolve(schema, item, direction, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve(schema, target, direction, depth + 1)
    node = {key: resolve(schema, value, direction, depth + 1) for key, value in node.items()}
    skipped = "readOnly" if direction == "request" else "writeOnly"
    if isinstance(node.get("properties"), dict) and "required" in node:
        node["required"] = [name for name in node["required"] if not node["properties"].get(name, {}).get(skipped)]
    if node.pop("nullable", False):
        flags = {key: node[key] for key in ("readOnly", "writeOnly") if key in node}
        return {"anyOf": [node, {"type": "null"}], **flags}
    return node


def test_every_operation_has_a_summary_examples_and_its_errors(schema):
    problems = []
    count = 0
    for path, method, operation in operations(schema):
        count += 1
        where = f"{method} {path}"
        if not operation.get("summary"):
            problems.append(f"{where}: no summary")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and not body.get("examples"):
            problems.append(f"{where}: no request example")
        responses = operation["responses"]
        answered = [code for code in responses if code.startswith("2") and responses[code].get("content")]
        if not answered and method != "DELETE":
            problems.append(f"{where}: no documented answer")
        for code in answered:
            if not responses[code]["content"]["application/json"].get("examples"):
                problems.append(f"{where}: no example of the {code} answer")
        missing = expected_errors(path, method) - set(responses)
        if missing:
            problems.append(f"{where}: errors {sorted(missing)} undocumented")
        for code in expected_errors(path, method):
            content = responses.get(code, {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") != "#/components/schemas/Error" or not content.get("examples"):
                problems.append(f"{where}: {code} is not the error shape with an example")
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        if method == "POST" and "Idempotency-Key" not in headers:
            problems.append(f"{where}: Idempotency-Key not documented")
        if "412" in expected_errors(path, method) and "If-Match" not in headers:
            problems.append(f"{where}: If-Match not documented")
    assert count > 60
    assert not problems, "\n".join(problems)


def test_the_error_shape_is_code_detail_fields(schema):
    error = schema["components"]["schemas"]["Error"]

    assert set(error["required"]) == {"code", "detail", "fields"}


def test_every_example_matches_its_schema(schema):
    problems = []
    checked = 0
    for path, method, operation in operations(schema):
        bodies = [("request", operation.get("requestBody", {}).get("content", {}).get("application/json"))]
        bodies += [(code, r.get("content", {}).get("application/json")) for code, r in operation["responses"].items()]
        for what, content in bodies:
            if not content or "schema" not in content:
                continue
            direction = "request" if what == "request" else "response"
            validator = jsonschema.Draft202012Validator(resolve(schema, copy.deepcopy(content["schema"]), direction))
            for name, example in content.get("examples", {}).items():
                checked += 1
                errors = [error.message for error in validator.iter_errors(example["value"])]
                if errors:
                    problems.append(f"{method} {path} {what} example {name!r}: {errors[:3]}")
    assert checked > 200
    assert not problems, "\n".join(problems)
