"""The console's sign-in state: the user's own bearer token in an HttpOnly cookie, and CSRF
tokens for its forms. The console keeps nothing else: every page is the services' answer to
that token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from shared.auth import Principal, TokenVerifier, Unauthenticated

TOKEN_COOKIE = "lingshui_console"
LOGIN_COOKIE = "lingshui_console_login"  # double-submit CSRF for the sign-in form itself
PATH = "/console"


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal
    csrf: str


class Sessions:
    """`secret` keys the CSRF tokens (HMAC of the session's token): a form posted from another
    site cannot carry it, and SameSite=Strict keeps the cookie off such a post anyway."""

    def __init__(self, verifier: TokenVerifier, secret: bytes | None = None,
                 secure_cookies: bool = False) -> None:
        self.verifier = verifier
        self.secret = secret or secrets.token_bytes(32)
        self.secure = secure_cookies

    def csrf_for(self, token: str) -> str:
        return hmac.new(self.secret, token.encode(), hashlib.sha256).hexdigest()[:40]

    def current(self, request: Request) -> Session | None:
        token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            return None
        try:
            principal = self.verifier.verify(token)
        except Unauthenticated:
            return None
        return Session(token, principal, self.csrf_for(token))

    def check_csrf(self, session: Session, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")

    def sign_in(self, response: Response, token: str) -> Principal:
        principal = self.verifier.verify(token)  # Unauthenticated for a bad token
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict",
                            secure=self.secure, path=PATH, max_age=8 * 3600)
        response.delete_cookie(LOGIN_COOKIE, path=PATH)
        return principal

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(TOKEN_COOKIE, path=PATH, httponly=True, samesite="strict",
                               secure=self.secure)

    # --- the sign-in form's own CSRF (no session yet) -------------------------------------

    def login_nonce(self, request: Request, response: Response) -> str:
        """The sign-in form's nonce, the same in its cookie and its hidden field."""
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                            secure=self.secure, path=PATH, max_age=3600)
        return nonce

    @staticmethod
    def check_login_nonce(request: Request, submitted: str | None) -> bool:
        expected = request.cookies.get(LOGIN_COOKIE)
        return bool(expected and submitted) and hmac.compare_digest(expected or "",
                                                                    submitted or "")
