"""Failed sign-ins are limited per username and per client address on both login pages."""

import time

import pytest

from agents_platform import login_throttle

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"  # tests/conftest.py's make_user
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def sign_in(client, page: str, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=address)


def assert_throttled(response) -> int:
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 15 * 61
    text = response.content.decode()
    assert "Too many sign-in attempts" in text and "Try again in" in text
    return retry_after


@pytest.fixture
def clock(monkeypatch):
    """Control ``time.time`` everywhere (the limiter and the LocMem cache's expiry)."""

    class Clock:
        now = time.time()

        @classmethod
        def time(cls):
            return cls.now

    monkeypatch.setattr(time, "time", Clock.time)
    return Clock


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_sixth_wrong_password_for_a_username_answers_429_then_even_the_right_one_waits(client, make_user, page):
    staff = make_user("root", is_staff=True, is_superuser=True)
    for attempt in range(5):
        # From a new address each time: the username's own limit is what stops it.
        response = sign_in(client, page, staff.username, "wrong", address=f"198.51.100.{attempt}")
        assert response.status_code == 200, "a wrong password shows the form again"
    assert_throttled(sign_in(client, page, staff.username, "wrong", address="198.51.100.99"))
    assert_throttled(sign_in(client, page, staff.username, PASSWORD, address="198.51.100.99"))
    assert "_auth_user_id" not in client.session
    # Another account is not locked by it.
    other = make_user("bob")
    assert sign_in(client, "/accounts/login/", other.username, PASSWORD, address="192.0.2.1").status_code == 302


def test_one_address_trying_many_usernames_is_stopped(client, make_user):
    for attempt in range(5):
        page = LOGIN_PAGES[attempt % 2]  # both pages count toward the same limits
        assert sign_in(client, page, f"guess{attempt}", "wrong").status_code == 200
    assert_throttled(sign_in(client, "/accounts/login/", "guess-next", "wrong"))
    assert_throttled(sign_in(client, "/admin/login/", "guess-next", "wrong"))
    # Another address is not stopped.
    assert sign_in(client, "/accounts/login/", "guess-next", "wrong", address="192.0.2.1").status_code == 200


def test_successful_sign_ins_do_not_count(client, make_user):
    alice = make_user("alice")
    for _ in range(8):
        assert sign_in(client, "/accounts/login/", alice.username, PASSWORD).status_code == 302
        client.logout()
    for _ in range(4):
        assert sign_in(client, "/accounts/login/", alice.username, "wrong").status_code == 200
    assert sign_in(client, "/accounts/login/", alice.username, PASSWORD).status_code == 302


def test_the_lock_rolls_off_with_the_oldest_failure(client, make_user, clock, settings):
    settings.LOGIN_FAILURE_LIMIT = "3/15m"
    alice = make_user("alice")
    start = clock.now
    for minute in (0, 5, 10):
        clock.now = start + minute * 60
        assert sign_in(client, "/accounts/login/", alice.username, "wrong").status_code == 200
    clock.now = start + 11 * 60
    retry_after = assert_throttled(sign_in(client, "/accounts/login/", alice.username, PASSWORD))
    # The failure at minute 0 counts for 15 minutes (plus at most one 15-s bucket).
    assert 4 * 60 <= retry_after <= 4 * 60 + 15
    assert "5 minutes" in sign_in(client, "/accounts/login/", alice.username, PASSWORD).content.decode()
    clock.now += retry_after
    assert sign_in(client, "/accounts/login/", alice.username, PASSWORD).status_code == 302


def test_username_is_case_folded_and_ipv6_counted_by_its_64(client, make_user, settings):
    settings.LOGIN_FAILURE_LIMIT = "2/15m"
    make_user("alice")
    assert sign_in(client, "/accounts/login/", "Alice", "wrong", address="192.0.2.1").status_code == 200
    assert sign_in(client, "/accounts/login/", "ALICE", "wrong", address="192.0.2.2").status_code == 200
    assert_throttled(sign_in(client, "/accounts/login/", "alice", PASSWORD, address="192.0.2.3"))

    for host in ("2001:db8:1:2::1", "2001:db8:1:2::ffff"):
        assert sign_in(client, "/accounts/login/", f"x{host}", "wrong", address=host).status_code == 200
    assert_throttled(sign_in(client, "/accounts/login/", "y", "wrong", address="2001:db8:1:2:abcd::5"))


def test_client_address_comes_from_the_trusted_header_only_when_configured(rf, settings):
    request = rf.post("/accounts/login/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.8")
    settings.CLIENT_IP_HEADER = None
    assert login_throttle.client_address(request) == "10.0.0.5"
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    assert login_throttle.client_address(request) == "198.51.100.8", "the last hop, the one our proxy added"


def test_get_of_the_login_page_is_never_refused(client, settings):
    settings.LOGIN_FAILURE_LIMIT = "1/15m"
    sign_in(client, "/accounts/login/", "someone", "wrong")
    assert_throttled(sign_in(client, "/accounts/login/", "someone", "wrong"))
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/admin/login/").status_code == 200
