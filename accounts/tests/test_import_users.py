from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User


def run_import(tmp_path, text: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "user.csv"
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_users", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "text",
    [
        "ada,secret-1\nbob,secret-2\n",
        "username,password\nada,secret-1\nbob,secret-2\n",
        "id,username,password\n1,ada,secret-1\n2,bob,secret-2\n",
        "1,ada,secret-1\n2,bob,secret-2\n",
        "password,username\nsecret-1,ada\nsecret-2,bob\n",
    ],
    ids=["plain", "header", "id-column-with-header", "id-column", "header-reordered"],
)
def test_it_imports_the_original_user_csv_with_hashed_passwords(db, tmp_path, text):
    out, _ = run_import(tmp_path, text)

    ada = User.objects.get(username="ada")
    assert ada.check_password("secret-1")
    assert ada.password.startswith(("md5$", "pbkdf2_sha256$"))
    assert "secret-1" not in ada.password
    assert User.objects.get(username="bob").check_password("secret-2")
    assert ada.quota.request_limit() == 10
    assert "created  ada" in out
    assert "2 created, 0 updated, 0 skipped, 0 invalid." in out


def test_it_reports_and_skips_existing_users(make_user, tmp_path):
    make_user("ada")

    out, _ = run_import(tmp_path, "ada,new-password\nbob,secret-2\n")

    assert "skipped  ada" in out
    assert "1 created, 0 updated, 1 skipped, 0 invalid." in out
    assert not User.objects.get(username="ada").check_password("new-password")


def test_it_updates_existing_users_passwords_with_update(make_user, tmp_path):
    make_user("ada")

    out, _ = run_import(tmp_path, "ada,new-password\n", "--update")

    assert "updated  ada" in out
    assert User.objects.get(username="ada").check_password("new-password")


def test_it_reports_rows_it_cannot_use(db, tmp_path):
    out, err = run_import(tmp_path, "ada,secret-1\nlonely\n,no-name\n\nbob,secret-2\n")

    assert "invalid  line 2: needs a username and a password" in err
    assert "invalid  line 3" in err
    assert "2 created, 0 updated, 0 skipped, 2 invalid." in out


def test_it_fails_clearly_on_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_users", str(tmp_path / "nope.csv"))
