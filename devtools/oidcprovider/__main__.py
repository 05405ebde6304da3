"""python -m devtools.oidcprovider CONFIG.json: set up the provider (database, key, client, users), then serve it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def make_key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)


def set_up(config: dict) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    client = config["client"]
    Application.objects.create(
        name="ChatGateway",
        client_id=client["id"],
        client_secret=client["secret"],
        hash_client_secret=True,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(client["redirect_uris"]),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    for person in config["users"]:
        user = User.objects.create_user(
            username=person["username"],
            password=person["password"],
            email=person.get("email", ""),
            first_name=person.get("given_name", ""),
            last_name=person.get("family_name", ""),
        )
        for name in person.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])


def main() -> None:
    config_path = Path(sys.argv[1])
    config = json.loads(config_path.read_text())
    key_file = Path(config["directory"]) / "provider-key.pem"
    make_key(key_file)
    config["key_file"] = str(key_file)
    config_path.write_text(json.dumps(config))
    os.environ["OIDC_PROVIDER_CONFIG"] = str(config_path)
    os.environ["DJANGO_SETTINGS_MODULE"] = "devtools.oidcprovider.settings"
    import django

    django.setup()
    set_up(config)
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", config["port"], get_wsgi_application(), ThreadingServer, QuietHandler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
