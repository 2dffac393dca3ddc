import logging
import shutil

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common.app import create_service_app
from services.common.db import create_engine
from services.common.openapi import Endpoint
from services.common.problems import parse_body, parse_query
from tests.support.harness import problem_field, running_app, settings_for


class EchoQuery(BaseModel):
    count: int = Field(ge=1, le=10)


class EchoBody(BaseModel):
    name: str = Field(min_length=1)


async def echo(request: Request) -> JSONResponse:
    query = parse_query(EchoQuery, request)
    body = await parse_body(EchoBody, request)
    return JSONResponse({"echo": [body.name] * query.count})


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("secret internals")


def make_app(tmp_path):
    endpoints = [
        Endpoint("POST", "/echo", echo, "echo", query=EchoQuery, body=EchoBody),
        Endpoint("GET", "/boom", boom, "fails"),
    ]
    settings = settings_for(tmp_path)
    return create_service_app(
        "search",
        settings,
        endpoints,
        title="test",
        migrations="tests.services.common.sample_migrations_v1",
    )


async def test_health_and_readiness_answer(tmp_path):
    async with running_app(make_app(tmp_path)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readiness_fails_when_the_database_does_not_answer(tmp_path):
    app = make_app(tmp_path)
    async with running_app(app) as client:
        healthy_engine = app.state.engine
        app.state.engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
        shutil.rmtree(tmp_path / "missing")
        try:
            response = await client.get("/readyz")
            alive = await client.get("/healthz")
        finally:
            await app.state.engine.dispose()
            app.state.engine = healthy_engine
    assert response.status_code == 503
    assert response.json()["type"].endswith("/not-ready")
    assert alive.status_code == 200


async def test_bad_query_and_body_name_the_field(tmp_path):
    async with running_app(make_app(tmp_path)) as client:
        response = await client.post("/echo?count=99", json={"name": "x"})
        assert response.status_code == 400
        assert problem_field(response) == "count"

        response = await client.post("/echo?count=2", json={"name": ""})
        assert response.status_code == 422
        assert problem_field(response) == "name"

        response = await client.post("/echo?count=2", content=b"{not json")
        assert response.status_code == 400
        assert problem_field(response) == "body"

        response = await client.post("/echo?count=2&colour=red", json={"name": "x"})
        assert response.status_code == 400
        assert problem_field(response) == "colour"

        response = await client.post("/echo?count=2", json={"name": "x"})
        assert response.json() == {"echo": ["x", "x"]}


async def test_unknown_route_and_wrong_method_are_problems(tmp_path):
    async with running_app(make_app(tmp_path)) as client:
        missing = await client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        wrong = await client.get("/echo")
        assert wrong.status_code == 405
        assert wrong.json()["title"] == "Method Not Allowed"


async def test_a_crash_is_a_500_problem_without_the_trace(tmp_path, caplog):
    async with running_app(make_app(tmp_path)) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text


async def test_request_id_is_echoed_or_made(tmp_path):
    async with running_app(make_app(tmp_path)) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
        made = await client.get("/healthz")
    assert given.headers["x-request-id"] == "abc123"
    assert len(made.headers["x-request-id"]) == 32


async def test_openapi_document_describes_the_endpoints(tmp_path):
    async with running_app(make_app(tmp_path)) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    operation = document["paths"]["/echo"]["post"]
    assert operation["parameters"][0]["name"] == "count"
    assert "requestBody" in operation
    assert "/echo" in docs.text


async def test_openapi_handles_a_model_that_is_both_body_and_response(tmp_path):
    async def put_echo(request: Request) -> JSONResponse:
        return JSONResponse((await parse_body(EchoBody, request)).model_dump())

    app = create_service_app(
        "search",
        settings_for(tmp_path),
        [Endpoint("PUT", "/echo", put_echo, "echo", body=EchoBody, response=EchoBody)],
        title="test",
    )
    async with running_app(app) as client:
        operation = (await client.get("/openapi.json")).json()["paths"]["/echo"]["put"]
    assert "requestBody" in operation and "content" in operation["responses"]["200"]


async def test_an_operation_that_parses_input_documents_its_400(tmp_path):
    """Fuzzing found a body that is not JSON answered 400 where only 422 was documented."""

    async def put_echo(request: Request) -> JSONResponse:
        return JSONResponse((await parse_body(EchoBody, request)).model_dump())

    async def get_echo(request: Request) -> JSONResponse:
        return JSONResponse(parse_query(EchoQuery, request).model_dump())

    app = create_service_app(
        "search",
        settings_for(tmp_path),
        [
            Endpoint("PUT", "/echo", put_echo, "echo", body=EchoBody, errors=(422,)),
            Endpoint("GET", "/echo", get_echo, "echo", query=EchoQuery, errors=()),
        ],
        title="test",
    )
    async with running_app(app) as client:
        document = (await client.get("/openapi.json")).json()
        not_json = await client.put("/echo", content=b"\xff")
        unknown = await client.get("/echo", params={"count": 1, "colour": "red"})
    assert not_json.status_code == unknown.status_code == 400
    assert "400" in document["paths"]["/echo"]["put"]["responses"]
    assert "400" in document["paths"]["/echo"]["get"]["responses"]


async def test_a_nul_character_anywhere_in_the_input_is_refused_naming_where(tmp_path):
    """Fuzzing on PostgreSQL found NUL characters (which it cannot store) answered 500."""

    class FindQuery(BaseModel):
        q: str

    async def find(request: Request) -> JSONResponse:
        return JSONResponse({"q": parse_query(FindQuery, request).q})

    async def show(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["thing_id"]})

    app = create_service_app(
        "search",
        settings_for(tmp_path),
        [
            Endpoint("POST", "/echo", echo, "echo", query=EchoQuery, body=EchoBody),
            Endpoint("GET", "/things/{thing_id}", show, "a thing"),
            Endpoint("GET", "/find", find, "find", query=FindQuery),
        ],
        title="test",
    )
    async with running_app(app) as client:
        in_query = await client.get("/find?q=a%00b")
        in_body = await client.post("/echo", params={"count": 1}, json={"name": "a\x00b"})
        in_key = await client.post("/echo", params={"count": 1}, content=b'{"n\\u0000": 1}')
        in_path = await client.get("/things/a%00b")
        escaped = await client.post("/echo", params={"count": 1}, json={"name": "\\u0000"})
    assert (in_query.status_code, problem_field(in_query)) == (400, "q")
    assert (in_body.status_code, problem_field(in_body)) == (422, "name")
    assert in_key.status_code == 422
    assert (in_path.status_code, problem_field(in_path)) == (400, "path")
    assert escaped.json() == {"echo": ["\\u0000"]}


async def test_metrics_answers_requests_by_route_and_the_database_pool(tmp_path):
    async with running_app(make_app(tmp_path)) as client:
        await client.post("/echo?count=1", json={"name": "a"})
        await client.get("/boom")
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    ok = (("method", "POST"), ("route", "/echo"), ("status", "200"))
    assert samples[("staysaga_http_requests_total", ok)] == 1.0
    failed = (("method", "GET"), ("route", "/boom"), ("status", "500"))
    assert samples[("staysaga_http_requests_total", failed)] == 1.0
    assert ("staysaga_db_pool_checked_out", ()) in samples
    assert ("process_resident_memory_bytes", ()) in samples
