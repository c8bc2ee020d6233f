"""The HTTP machinery the connectors share (internal): the retrying client and its retry
policy, proxies from the environment, the one transport-error wording, secret scopes, the
columnar decoder, dotted paths into JSON, URL helpers and ``Link`` header pagination.

The http and github sources and the WebAssembly host's fetch use it; it imports no
connector package (an import-linter contract says so). Importing this package loads
nothing: urllib3 and pyarrow load with the modules that need them.
"""
