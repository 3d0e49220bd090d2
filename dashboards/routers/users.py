"""Users and their API tokens, for admins: `GET|POST /api/users`, `PATCH /api/users/{name}`,
`POST|DELETE /api/users/{name}/tokens`, and the `/users` page doing the same from the board.

The rules (last admin kept, password length, sessions ended on disable, role change and
password reset, tokens revoked on disable) are hub/access.py's, shared with `pingan users`;
each change is one transaction with its audit record (`user.*`, channel `api` or `board`).
After a change that ends sessions the bus is told, so open `/live` streams of that user
re-check at once and close.
"""

# No `from __future__ import annotations`: FastAPI evaluates the Annotated route signatures.

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from dashboards.auth import Principal, Role, api_user, check_csrf, page_user
from dashboards.live import SESSION_EVENT
from dashboards.render import Renderer
from dashboards.routers.api import ERRORS, NOT_FOUND, Problem
from hub import access
from hub.access import MIN_PASSWORD_LENGTH, AccessError

if TYPE_CHECKING:
    from dashboards.app import WebServices

NAME_PATTERN = r"^[\w.@-]+$"  # and at most NAME_MAX: see ID_PATTERN (routers/api.py)
NAME_MAX = 100
UserName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=NAME_MAX, description="user name")]
RoleName = Literal["admin", "operator", "viewer"]
REFUSED: dict[int | str, dict[str, object]] = {409: {"model": Problem, "description": "refused (exists, last admin, disabled)"}}


class UserOut(BaseModel):
    name: str
    role: str
    disabled: bool
    created_at: float
    tokens: int = Field(description="API tokens of this user that are not revoked")
    scope: list[str] | None = Field(None, description="communities or grids the user is limited to (`pingan users set-scope`); null: all")


class UserIn(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX)
    role: RoleName
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)


class UserPatch(BaseModel):
    role: RoleName | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=MIN_PASSWORD_LENGTH, max_length=200)

    @field_validator("password")
    @classmethod
    def _no_nul(cls, v: str | None) -> str | None:
        if v is not None and "\x00" in v:
            raise ValueError("must not contain NUL characters")
        return v


class TokenOut(BaseModel):
    name: str
    role: str
    token: str = Field(description="shown only now; send it as `Authorization: Bearer <token>`")


class RevokedOut(BaseModel):
    revoked: int


def user_out(session: Session, name: str) -> UserOut:
    user = access.find_user(session, name)
    if user is None:
        raise HTTPException(404, f"no user {name!r}")
    tokens = access.live_token_counts(session).get(name, 0)
    return UserOut(name=user.name, role=user.role, disabled=user.disabled_at is not None, created_at=user.created_at,
                   tokens=tokens, scope=user.scope)


def apply_patch(session: Session, name: str, patch: UserPatch, now: float, actor: str, channel: str) -> None:
    """Role, then password, then enabled state: each audited, each ending sessions as the CLI does."""
    if access.find_user(session, name) is None:
        raise HTTPException(404, f"no user {name!r}")
    if patch.role is not None:
        access.set_role(session, name, patch.role, now, actor, channel)
    if patch.password is not None:
        access.reset_password(session, name, patch.password, now, actor, channel)
    if patch.disabled is True:
        access.disable_user(session, name, now, actor, channel)
    elif patch.disabled is False:
        access.enable_user(session, name, now, actor, channel)


def router(services: "WebServices", renderer: Renderer) -> APIRouter:
    r = APIRouter()
    admin_api = Depends(api_user(services.sessions, Role.ADMIN))
    Admin = Annotated[Principal, Depends(page_user(services, Role.ADMIN))]
    write = [Depends(check_csrf)]

    def change(action, channel: str):  # type: ignore[no-untyped-def]
        """Run `action(session, now)` in one transaction; AccessError → 409; sessions re-checked."""
        try:
            with services.sessions.begin() as session:
                result = action(session, services.clock.now())
        except AccessError as exc:
            raise HTTPException(409, str(exc)) from None
        services.events.publish(SESSION_EVENT)
        return result

    # --- API ------------------------------------------------------------------------------

    @r.get("/api/users", response_model=list[UserOut], tags=["users"], responses=ERRORS)
    def list_users(user: Principal = admin_api) -> list[UserOut]:
        with services.sessions() as session:
            return [user_out(session, u.name) for u in access.list_users(session)]

    @r.post("/api/users", response_model=UserOut, status_code=201, tags=["users"], responses={**ERRORS, **REFUSED})
    def add_user(body: UserIn, user: Principal = admin_api) -> UserOut:
        def add(session: Session, now: float) -> UserOut:
            access.add_user(session, body.name, body.role, body.password, now)
            access.audit_user(session, now, user.name, "user.add", body.name, "api", role=body.role)
            return user_out(session, body.name)

        return change(add, "api")  # type: ignore[no-any-return]

    @r.patch("/api/users/{name}", response_model=UserOut, tags=["users"], responses={**ERRORS, **NOT_FOUND, **REFUSED})
    def patch_user(name: UserName, body: UserPatch, user: Principal = admin_api) -> UserOut:
        def patch(session: Session, now: float) -> UserOut:
            apply_patch(session, name, body, now, user.name, "api")
            return user_out(session, name)

        return change(patch, "api")  # type: ignore[no-any-return]

    @r.post("/api/users/{name}/tokens", response_model=TokenOut, status_code=201, tags=["users"],
            responses={**ERRORS, **NOT_FOUND, **REFUSED})  # fmt: skip
    def create_token(name: UserName, user: Principal = admin_api) -> TokenOut:
        def create(session: Session, now: float) -> TokenOut:
            if access.find_user(session, name) is None:
                raise HTTPException(404, f"no user {name!r}")
            token = access.create_user_token(session, name, now, user.name, "api")
            return TokenOut(name=name, role=user_out(session, name).role, token=token)

        return change(create, "api")  # type: ignore[no-any-return]

    @r.delete("/api/users/{name}/tokens", response_model=RevokedOut, tags=["users"], responses={**ERRORS, **NOT_FOUND})
    def revoke_tokens(name: UserName, user: Principal = admin_api) -> RevokedOut:
        def revoke(session: Session, now: float) -> RevokedOut:
            if access.find_user(session, name) is None:
                raise HTTPException(404, f"no user {name!r}")
            return RevokedOut(revoked=access.revoke_user_tokens(session, name, now, user.name, "api"))

        return change(revoke, "api")  # type: ignore[no-any-return]

    # --- the admin page -------------------------------------------------------------------

    @r.get("/users", include_in_schema=False)
    def users_page(request: Request, user: Admin) -> Response:
        with services.sessions() as session:
            rows = [user_out(session, u.name) for u in access.list_users(session)]
        context = {"rows": rows, "roles": access.ROLES, "min_password": MIN_PASSWORD_LENGTH,
                   "new_token": request.session.pop("new_token", None)}
        return renderer.page(request, "users.html", context, user)

    def on_page(request: Request, action, done: str) -> Response:  # type: ignore[no-untyped-def]
        try:
            result = change(action, "board")
            request.session["flash"] = done
        except HTTPException as exc:
            if exc.status_code != 409:
                raise
            request.session["flash"] = f"! {exc.detail}"
            result = None
        if isinstance(result, str):  # a new token: shown once on the next view
            request.session["new_token"] = result
        return RedirectResponse("/users", status_code=303)

    @r.post("/users", include_in_schema=False, dependencies=write)
    def add_user_form(
        request: Request,
        user: Admin,
        name: Annotated[str, Form(pattern=NAME_PATTERN, max_length=NAME_MAX)],
        role: Annotated[RoleName, Form()],
        password: Annotated[str, Form(min_length=MIN_PASSWORD_LENGTH, max_length=200)],
    ) -> Response:
        def add(session: Session, now: float) -> None:
            access.add_user(session, name, role, password, now)
            access.audit_user(session, now, user.name, "user.add", name, "board", role=role)

        return on_page(request, add, f"{name}: added")

    @r.post("/users/{name}", include_in_schema=False, dependencies=write)
    def change_user_form(
        request: Request,
        name: UserName,
        user: Admin,
        action: Annotated[Literal["role", "disable", "enable", "password", "revoke_tokens", "new_token"], Form()],
        role: Annotated[RoleName | None, Form()] = None,
        password: Annotated[str | None, Form(min_length=MIN_PASSWORD_LENGTH, max_length=200)] = None,
    ) -> Response:
        if action == "role" and role is None:
            raise HTTPException(422, "role: choose a role")
        if action == "password" and password is None:
            raise HTTPException(422, f"password: at least {MIN_PASSWORD_LENGTH} characters")
        patch = UserPatch(
            role=role if action == "role" else None,
            password=password if action == "password" else None,
            disabled={"disable": True, "enable": False}.get(action),
        )

        def run(session: Session, now: float) -> str | None:
            if action == "revoke_tokens":
                access.revoke_user_tokens(session, name, now, user.name, "board")
            elif action == "new_token":
                return access.create_user_token(session, name, now, user.name, "board")
            else:
                apply_patch(session, name, patch, now, user.name, "board")
            return None

        return on_page(request, run, f"{name}: {action}")

    return r
