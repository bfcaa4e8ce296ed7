"""The web apps: training (`POST /train` spawns and returns, status, cancel) and inference
(OpenAI-compatible chat, model list, reload). Routes and shapes: contracts/README.md.

On Modal they are two functions — `web` (training routes, no GPU) and `inference` (GPU) — and
locally one uvicorn app serves both; the same code, only the Spawner differs.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any, Literal, Protocol, cast

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from .contract import TrainRequest
from .inference import (
    ChatParams,
    ContextTooLong,
    ModelNotFound,
    ModelRegistry,
    ModelUnavailable,
    check_fits,
    completion_id,
    generate,
    parse_model,
)
from .settings import get_settings

log = logging.getLogger("twin_gpu.web")


CallStatus = Literal["running", "completed", "failed", "cancelled", "unknown"]


class Spawner(Protocol):
    """Starts training calls and answers for them (Modal functions, or local subprocesses)."""

    def spawn(self, payload: dict[str, Any]) -> str:
        """Starts the call (or finds the one already started for this runId and attempt); its id."""
        ...

    def status(self, call_id: str) -> dict[str, Any]:
        """`{"status": CallStatus, "error": str | None}`."""
        ...

    def cancel(self, call_id: str) -> dict[str, Any]:
        """`{"cancelled": bool, "status": CallStatus}` once the call is stopped (or was not running)."""
        ...


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None


def _error(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": type_, "code": code, "param": None}}, status)


def create_app(spawner: Spawner | None, registry: ModelRegistry | None = None, *, inference: bool = True) -> FastAPI:
    """Training routes when there is a spawner; inference routes when `inference` (with `registry`
    or a new one)."""
    app = FastAPI(title="digital-twin GPU functions", docs_url=None, redoc_url=None)
    models = (registry or ModelRegistry()) if inference else None

    def require_token(authorization: str | None = Header(None)) -> None:
        expected = get_settings().api_token
        if not expected:
            raise HTTPException(503, "TWIN_API_TOKEN is not configured")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(401, "invalid bearer token")

    @app.exception_handler(HTTPException)
    async def _http_error(_req: Request, exc: HTTPException) -> JSONResponse:
        kind = {401: "authentication_error", 404: "not_found_error"}.get(exc.status_code, "server_error")
        return _error(exc.status_code, str(exc.detail), kind)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        msg = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(400, msg, "invalid_request_error")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "loadedModels": len(models.loaded_users()) if models else 0}

    if spawner is not None:
        _training_routes(app, spawner, require_token)
    if models is not None:
        _inference_routes(app, models, require_token)
    return app


def _training_routes(app: FastAPI, spawner: Spawner, require_token: Any) -> None:
    @app.post("/train", status_code=202, dependencies=[Depends(require_token)])
    def train(req: TrainRequest) -> dict[str, str]:
        call_id = spawner.spawn(req.model_dump())
        log.info("training run %s attempt %d is call %s", req.runId, req.attempt, call_id)
        return {"callId": call_id}

    @app.get("/train/{call_id}", dependencies=[Depends(require_token)])
    def train_status(call_id: str) -> dict[str, Any]:
        state = spawner.status(call_id)
        return {"callId": call_id, "status": state["status"], "error": state.get("error")}

    @app.post("/train/{call_id}/cancel", dependencies=[Depends(require_token)])
    def train_cancel(call_id: str) -> dict[str, Any]:
        state = spawner.cancel(call_id)
        log.info("cancel of call %s: %s", call_id, state)
        return {"callId": call_id, "cancelled": state["cancelled"], "status": state["status"]}


def _inference_routes(app: FastAPI, models: ModelRegistry, require_token: Any) -> None:
    @app.get("/v1/models", dependencies=[Depends(require_token)])
    def list_models() -> dict[str, Any]:
        data = [{"id": f"twin:{k}", "object": "model", "created": 0, "owned_by": "digital-twin"}
                for k in models.loaded_users()]
        return {"object": "list", "data": data}

    @app.post("/models/{user_id}/reload", dependencies=[Depends(require_token)])
    def reload(user_id: str) -> dict[str, Any]:
        return {"userId": user_id, "dropped": models.reload(user_id)}

    @app.post("/v1/chat/completions", dependencies=[Depends(require_token)], response_model=None)
    def chat(req: ChatRequest) -> JSONResponse | StreamingResponse:
        try:
            entry = models.get(*parse_model(req.model))
        except ModelNotFound as e:
            return _error(404, str(e), "invalid_request_error", "model_not_found")
        except ModelUnavailable as e:
            return _error(503, str(e), "server_error", "model_unavailable")
        params = ChatParams(
            messages=[{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                      for m in req.messages],
            max_tokens=req.max_completion_tokens or req.max_tokens or 512,
            temperature=req.temperature,
            top_p=req.top_p,
            stop=[req.stop] if isinstance(req.stop, str) else list(req.stop or []),
            seed=req.seed,
        )
        try:
            check_fits(entry, params)
        except ContextTooLong as e:
            return _error(400, str(e), "invalid_request_error", "context_length_exceeded")
        cid, created = completion_id(), int(time.time())
        if not req.stream:
            text, final = "", cast(dict[str, Any], {})
            for delta, end in generate(entry, params):
                text += delta
                final = end or final
            return JSONResponse({
                "id": cid, "object": "chat.completion", "created": created, "model": req.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": final["finish_reason"], "logprobs": None}],
                "usage": final["usage"],
            })
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(
            _sse(entry, params, cid, created, req.model, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _sse(entry: Any, params: ChatParams, cid: str, created: int, model: str, include_usage: bool) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body)}\n\n"

    extra = {"usage": None} if include_usage else {}
    yield chunk({"role": "assistant", "content": ""}, **extra)
    for delta, end in generate(entry, params):
        if delta:
            yield chunk({"content": delta}, **extra)
        if end:
            yield chunk({}, end["finish_reason"], **extra)
            if include_usage:
                usage_chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [], "usage": end["usage"]}
                yield f"data: {json.dumps(usage_chunk)}\n\n"
    yield "data: [DONE]\n\n"
