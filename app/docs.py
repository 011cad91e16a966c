"""What the OpenAPI document and `/docs` say about the service, worded from the policy pack.

The organisation's name, the policy's title, clauses and ladder come from the pack; the server URL
from ``POLICY_PUBLIC_BASE_URL``. Swagger UI's assets are served from the installed
``swagger-ui-bundle-v2`` package, so the docs work offline and load nothing from another host.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from app.policy.pack import PolicyPack

#: Examples in the schemas write the organisation's name as this token; the spec fills it from the pack.
ORGANISATION_TOKEN = "{organisation}"
DOCS_ASSETS = "/docs/assets"


def service_title(pack: PolicyPack) -> str:
    """Return the API's title, e.g. "<organisation> Social Media policy service"."""
    return f"{pack.organisation.name} {pack.review.title} policy service"


def service_description(pack: PolicyPack) -> str:
    """Return the OpenAPI `info.description`: what the service does, for whom, and its conventions."""
    org = pack.organisation.name
    clauses = "\n".join(f"  - `{c.rule_id}`: {c.title}" for c in pack.clauses)
    stages = " → ".join(f"`{step.stage}`" for step in pack.ladder.steps if step.stage != "resolved")
    return f"""\
Puts the {org} {pack.review.title} policy (pack `{pack.name}` {pack.version}, policy version
`{pack.review.version}`) into practice for HR systems, front ends and scripts:

- **Screen posts before they are published** (`createScreening`, `createScreeningBatch`). Each post
  gets a verdict, `allow`, `review` or `block`, with every clause it breaches, where in the text,
  why, how to fix it, and a suggested text with personal data and secrets replaced. The post's
  text is never stored, logged or returned: a screening keeps its verdict, findings and a SHA-256
  of the text. The screener enforces the policy's {len(pack.clauses)} clauses (`listPolicyClauses`):
{clauses}
- **Record derogatory-post incidents** (`createIncident`) against a person's HR reference, never a name.
- **Run the escalation ladder the policy prescribes** ({stages}), one step per repeat incident, with
  appeals and resolution; each case has a version (`ETag`), and every action needs `If-Match` with
  it (`428` without, `412` when stale), so two HR users cannot both advance a case. The draft legal
  letter is built from what HR recorded and the policy's own clauses.
- **Report the policy's review status** ("{pack.review.label}", reviewed every
  {pack.review.interval_months} months), record reviews, and track who has acknowledged the current version.

Every `/v1` operation needs a bearer token (`issueToken` with client credentials, or
`python -m app token` in development) carrying the operation's scope. Every `POST` accepts an
`Idempotency-Key`, so a retry returns the first answer instead of doing the work twice. Errors are
RFC 9457 `application/problem+json` naming the offending field.
"""


def fill_organisation(node: Any, name: str) -> Any:
    """Return ``node`` with every ``{organisation}`` token in its strings replaced by ``name``."""
    if isinstance(node, str):
        return node.replace(ORGANISATION_TOKEN, name)
    if isinstance(node, list):
        return [fill_organisation(item, name) for item in node]
    if isinstance(node, dict):
        return {key: fill_organisation(value, name) for key, value in node.items()}
    return node


def require_if_match(schema: dict[str, Any]) -> None:
    """Declare `If-Match` required on every operation that answers 428 without it.

    The handlers take the header as optional so that its absence is a 428 (RFC 6585), not a 422;
    the spec still says it is required, so generated clients make callers pass it.
    """
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "428" not in operation.get("responses", {}):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name", "").lower() == "if-match":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "examples": ['"3"']}


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` from the locally installed assets (create the app with docs_url=None)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=oauth2_redirect,
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
