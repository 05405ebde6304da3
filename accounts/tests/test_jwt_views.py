from rest_framework.test import APIClient

from conftest import PASSWORD


def obtain(client: APIClient, username: str = "ada", password: str = PASSWORD):
    return client.post("/api/token/", {"username": username, "password": password}, format="json")


def test_it_gives_an_access_and_refresh_pair_that_works_on_the_api(user):
    client = APIClient()
    tokens = obtain(client).json()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    assert client.get("/api/quota/").status_code == 200
    assert client.get("/api", {"q": "hi"}).json()["statu"] is True


def test_it_refuses_a_wrong_password_with_401(user):
    assert obtain(APIClient(), password="wrong").status_code == 401


def test_refresh_gives_a_new_access_token(user):
    client = APIClient()
    refresh = obtain(client).json()["refresh"]

    response = client.post("/api/token/refresh/", {"refresh": refresh}, format="json")

    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert client.get("/api/quota/").status_code == 200


def test_refresh_refuses_revoked_tokens_and_deleted_users_with_401(make_user):
    client = APIClient()
    ada, bob = make_user("ada"), make_user("bob")
    ada_refresh = obtain(client, "ada").json()["refresh"]
    bob_refresh = obtain(client, "bob").json()["refresh"]
    ada.revoke_tokens()
    bob.delete()

    assert client.post("/api/token/refresh/", {"refresh": ada_refresh}, format="json").status_code == 401
    assert client.post("/api/token/refresh/", {"refresh": bob_refresh}, format="json").status_code == 401


def test_verify_accepts_a_good_token_and_refuses_garbage(user):
    client = APIClient()
    access = obtain(client).json()["access"]

    assert client.post("/api/token/verify/", {"token": access}, format="json").status_code == 200
    assert client.post("/api/token/verify/", {"token": "garbage"}, format="json").status_code == 401


def test_verify_refuses_the_tokens_of_revoked_and_inactive_users(make_user):
    client = APIClient()
    ada, bob = make_user("ada"), make_user("bob")
    ada_access, bob_access = obtain(client, "ada").json()["access"], obtain(client, "bob").json()["access"]
    ada.revoke_tokens()
    bob.is_active = False
    bob.save()

    assert client.post("/api/token/verify/", {"token": ada_access}, format="json").status_code == 401
    assert client.post("/api/token/verify/", {"token": bob_access}, format="json").status_code == 401


def test_a_token_from_the_original_endpoint_works_on_the_drf_api(user):
    client = APIClient()
    token = client.post("/token", {"u": "ada", "p": PASSWORD}, format="json").json()["message"]["token"]

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert client.post("/api/chat/", {"prompt": "hi"}, format="json").status_code == 200
