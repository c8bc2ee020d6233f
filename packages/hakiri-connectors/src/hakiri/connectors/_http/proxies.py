"""Proxies from the environment: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``.

Most HTTP clients honour them (httpx, requests, curl); urllib3 alone does not, so a source
behind a corporate proxy would otherwise stop working.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import urllib3

__all__ = ["EnvironmentProxies"]


class EnvironmentProxies:
    """One ``ProxyManager`` per proxy URL, made when first needed; read at construction."""

    def __init__(self, pool_options: dict[str, Any]) -> None:
        self._proxies = getproxies_environment()
        self._options = pool_options
        self._managers: dict[str, urllib3.ProxyManager] = {}

    def manager(self, url: str, scheme: str) -> urllib3.ProxyManager | None:
        """The manager to send ``url`` through, or None to go direct.

        Raises urllib3's ``LocationValueError`` when the proxy URL is not valid.
        """
        if not self._proxies:
            return None
        proxy = self._proxies.get(scheme) or self._proxies.get("all")
        # With proxies in the environment, proxy_bypass reads NO_PROXY on every platform.
        if not proxy or bool(proxy_bypass(urlsplit(url).hostname or "")):
            return None
        manager = self._managers.get(proxy)
        if manager is None:
            manager = self._managers[proxy] = _proxy_manager(proxy, self._options)
        return manager

    def clear(self) -> None:
        """Close every proxy connection."""
        for manager in self._managers.values():
            manager.clear()


def _proxy_manager(proxy: str, options: dict[str, Any]) -> urllib3.ProxyManager:
    if "://" not in proxy:
        proxy = f"http://{proxy}"  # "proxy.example.com:3128", as curl and requests read it
    auth = urllib3.util.parse_url(proxy).auth
    headers = urllib3.make_headers(proxy_basic_auth=unquote(auth)) if auth else None
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **options)
