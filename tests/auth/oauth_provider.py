"""A fake OAuth 2 / OpenID Connect provider on 127.0.0.1 with its own RSA keys.

One HTTP server plays every provider's endpoints: the code exchange, a JWKS, the
profile endpoints and each provider's way of telling which app an access token
belongs to (Google tokeninfo, Facebook debug_token, Discord @me, GitHub's token
check). Tests register codes and access tokens, then point the API at it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "mage-client-id"
CLIENT_SECRET = "mage-client-secret"
OTHER_CLIENT_ID = "someone-elses-app"


@dataclass
class AccessGrant:
    """The provider's record of one access token it issued."""

    app: str
    profile: dict[str, Any]
    emails: list[dict[str, Any]] = field(default_factory=list)
    valid: bool = True
    expires_in: int = 3600


@dataclass
class CodeGrant:
    access_token: str
    id_token: str | None
    code_challenge: str | None


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeProvider:
    issuer = "https://issuer.test"

    def __init__(self) -> None:
        self.key = _rsa_key()
        self.kid = "fake-key-1"
        # Never published: tokens signed with it must fail.
        self.foreign_key = _rsa_key()
        self.codes: dict[str, CodeGrant] = {}
        self.grants: dict[str, AccessGrant] = {}
        self.token_requests: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # Lifecycle and URLs.

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def settings_for(self, provider: str, **overrides: Any) -> dict[str, Any]:
        """Return the `oauth_providers` entry pointing `provider` at this server."""
        token_info = {
            "google": "/google/tokeninfo",
            "facebook": "/facebook/debug_token",
            "discord": "/discord/oauth2/@me",
            "github": "/github/applications/{client_id}/token",
        }.get(provider)
        values: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorize_url": f"{self.base}/authorize",
            "token_url": f"{self.base}/token",
            "userinfo_url": f"{self.base}/userinfo",
            "jwks_url": f"{self.base}/jwks",
            "token_info_url": f"{self.base}{token_info}" if token_info else None,
            "issuers": [self.issuer],
        }
        values.update(overrides)
        return values

    # Tokens.

    def id_token(
        self,
        subject: str,
        *,
        email: str | None = None,
        audience: str = CLIENT_ID,
        issuer: str | None = None,
        expires_in: int = 600,
        nonce: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        email_verified: bool = True,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + expires_in,
            "email_verified": email_verified,
        }
        if email is not None:
            claims["email"] = email
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(
            claims,
            key or self.key,
            algorithm="RS256",
            headers={"kid": kid or self.kid},
        )

    def access_token(self, grant: AccessGrant) -> str:
        token = f"at-{uuid.uuid4().hex}"
        self.grants[token] = grant
        return token

    def add_code(
        self, access_token: str, id_token: str | None, code_challenge: str | None
    ) -> str:
        code = f"code-{uuid.uuid4().hex}"
        self.codes[code] = CodeGrant(access_token, id_token, code_challenge)
        return code

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    # The HTTP side.

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                provider._route(self, "GET")

            def do_POST(self) -> None:
                provider._route(self, "POST")

        return Handler

    def _route(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        routes = {
            ("GET", "/jwks"): lambda: (200, self.jwks()),
            ("POST", "/token"): lambda: self._token(raw),
            ("GET", "/userinfo"): lambda: self._userinfo(request, query),
            ("GET", "/userinfo/emails"): lambda: self._emails(request),
            ("GET", "/google/tokeninfo"): lambda: self._google(query),
            ("GET", "/facebook/debug_token"): lambda: self._facebook(query),
            ("GET", "/discord/oauth2/@me"): lambda: self._discord(request),
        }
        handler = routes.get((method, parts.path))
        if handler is None and method == "POST" and parts.path.startswith("/github/"):
            status, body = self._github(request, parts.path, raw)
        elif handler is None:
            status, body = 404, {"error": "not_found"}
        else:
            status, body = handler()
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _bearer_grant(self, request: BaseHTTPRequestHandler) -> AccessGrant | None:
        header = request.headers.get("Authorization") or ""
        return self.grants.get(header.removeprefix("Bearer ").strip())

    def _token(self, raw: bytes) -> tuple[int, Any]:
        form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
        self.token_requests.append(form)
        grant = self.codes.pop(form.get("code", ""), None)
        if form.get("client_id") != CLIENT_ID:
            return 401, {"error": "invalid_client"}
        if form.get("client_secret") != CLIENT_SECRET or grant is None:
            return 400, {"error": "invalid_grant"}
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != grant.code_challenge:
                return 400, {"error": "invalid_grant"}
        body: dict[str, Any] = {
            "access_token": grant.access_token,
            "token_type": "bearer",
        }
        if grant.id_token is not None:
            body["id_token"] = grant.id_token
        return 200, body

    def _userinfo(
        self, request: BaseHTTPRequestHandler, query: dict[str, str]
    ) -> tuple[int, Any]:
        grant = self._bearer_grant(request) or self.grants.get(
            query.get("access_token", "")
        )
        if grant is None or not grant.valid:
            return 401, {"error": "invalid_token"}
        return 200, grant.profile

    def _emails(self, request: BaseHTTPRequestHandler) -> tuple[int, Any]:
        grant = self._bearer_grant(request)
        if grant is None:
            return 401, {"message": "Bad credentials"}
        return 200, grant.emails

    def _google(self, query: dict[str, str]) -> tuple[int, Any]:
        grant = self.grants.get(query.get("access_token", ""))
        if grant is None or not grant.valid:
            return 400, {"error_description": "Invalid Value"}
        return 200, {
            "aud": grant.app,
            "azp": grant.app,
            "sub": grant.profile.get("sub"),
            "expires_in": str(grant.expires_in),
        }

    def _facebook(self, query: dict[str, str]) -> tuple[int, Any]:
        if query.get("access_token") != f"{CLIENT_ID}|{CLIENT_SECRET}":
            return 400, {"error": {"message": "Invalid OAuth access token."}}
        grant = self.grants.get(query.get("input_token", ""))
        if grant is None:
            return 200, {"data": {"is_valid": False}}
        return 200, {
            "data": {
                "app_id": grant.app,
                "is_valid": grant.valid,
                "user_id": grant.profile.get("id"),
                "expires_at": int(time.time()) + grant.expires_in,
            }
        }

    def _discord(self, request: BaseHTTPRequestHandler) -> tuple[int, Any]:
        grant = self._bearer_grant(request)
        if grant is None or not grant.valid:
            return 401, {"message": "401: Unauthorized"}
        return 200, {"application": {"id": grant.app}, "user": grant.profile}

    def _github(
        self, request: BaseHTTPRequestHandler, path: str, raw: bytes
    ) -> tuple[int, Any]:
        client_id = path.split("/")[3] if path.count("/") >= 4 else ""
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return 401, {"message": "Bad credentials"}
        token = json.loads(raw or b"{}").get("access_token", "")
        grant = self.grants.get(token)
        if grant is None or grant.app != client_id or not grant.valid:
            return 404, {"message": "Not Found"}
        return 200, {"app": {"client_id": grant.app}, "user": grant.profile}
