"""The analyst's desk: a web view of the database with analysts' feedback (`monitor web`,
or `[web] listen` inside the daemon). `app` builds the Starlette application, `server` runs
it with uvicorn on a loopback address, `feeds` writes the Atom and JSON feeds of matched
stories, `feedback` takes the feedback forms (POST, CSRF-checked) and `tokens` signs what
the desk hands out (form tokens, digest feedback links).
Imported only by the commands that serve it, so `monitor --help` never loads the ASGI stack.
"""
