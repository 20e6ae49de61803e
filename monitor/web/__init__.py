"""The analyst's desk: a read-only web view of the database (`monitor web`, or `[web]
listen` inside the daemon). `app` builds the Starlette application, `server` runs it with
uvicorn on a loopback address, `feeds` writes the Atom and JSON feeds of matched stories.
Imported only by the commands that serve it, so `monitor --help` never loads the ASGI stack.
"""
