"""The imperative shell of homerun-bridge: the aiohttp server in front of API v2.

Request -> route (parse, authenticate) -> ``mappings`` (v1 -> v2 call plan) ->
upstream client -> ``mappings`` (v2 -> v1 body) -> response.
"""

__version__ = "0.1.0"
