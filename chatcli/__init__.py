"""The terminal chat client, `python -m chatcli`.

It talks to a gateway over HTTP only and imports nothing from Django or the gateway's apps, so that it
runs wherever requirements-cli.txt is installed. See docs/cli.md.
"""
