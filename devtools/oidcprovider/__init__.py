"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in a tiny Django project.

`python -m devtools.oidcprovider CONFIG.json` migrates a SQLite database in the config's directory, makes
an RS256 key, the gateway's client and the users it lists (with their groups), and serves the provider on the
config's port, its issuer `http://127.0.0.1:PORT/o`. It is a second process: the gateway talks to it over
real HTTP, as to Keycloak or Entra ID. `OIDCProvider` (devtools.oidcprovider.process) starts and stops it.

Test faults, chosen by the username that logs in at the provider: `fault-audience` gets an ID token for
another client, `fault-expired` one that expired an hour ago.
"""
