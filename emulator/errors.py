"""API errors in the real response shape."""

from __future__ import annotations

import secrets
from http import HTTPStatus

MESSAGES = {
    "unauthorized": "認証に失敗しました。",
    "not_found": "対象が見つかりません。対象は利用できない状態か、IDまたはパスに誤りがあります。",
    "busy": "サービスが利用できません。サーバが混雑しています。しばらく時間をおいてから再度お試しください。",
    "conflict": "要求された操作は現在の対象の状態では実行できません。",
    "still_creating": "対象は作成中です。しばらく時間をおいてから再度お試しください。",
    "disk_is_not_available": "ディスクが利用可能な状態ではありません。コピー完了後に再度お試しください。",
    "server_power_must_be_down": "サーバの電源が入っている状態では、この操作は実行できません。",
    "disconnect_b4_delete": "削除する前にサーバとの接続を解除してください。",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, msg: str | None = None):
        super().__init__(f"{status} {code}: {msg or ''}")
        self.status, self.code = status, code
        self.msg = msg or MESSAGES.get(code, code)

    def body(self) -> dict:
        return error_body(self.status, self.code, self.msg)


def error_body(status: int, code: str, msg: str | None = None) -> dict:
    return {
        "is_fatal": True,
        "serial": secrets.token_hex(16),
        "status": f"{status} {HTTPStatus(status).phrase}",
        "error_code": code,
        "error_msg": msg or MESSAGES.get(code, code),
    }


def not_found(what: str = "") -> ApiError:
    return ApiError(404, "not_found", MESSAGES["not_found"] + (f" ({what})" if what else ""))


def bad(code: str, msg: str) -> ApiError:
    return ApiError(400, code, msg)


def conflict(code: str = "conflict", msg: str | None = None) -> ApiError:
    return ApiError(409, code, msg)
