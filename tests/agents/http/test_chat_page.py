"""``GET /`` passes the engine's message limit to the sessions app's chat page, read per request."""


def test_the_chat_page_shows_the_engine_limit(client, user, settings):
    settings.AGENT_MAX_MESSAGE_CHARS = 4321
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert b'"maxMessageChars": 4321' in response.content
    assert b"up to 4,321 characters" in response.content  # grouped, as the page writes numbers


def test_the_chat_page_answers_get_only(client, user):
    client.force_login(user)
    assert client.post("/").status_code == 405
