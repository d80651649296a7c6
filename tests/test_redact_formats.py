"""Every planted secret of the corpus, in every container a transcript shows it in.

The corpus (tests/fixtures/redact_corpus) plants each secret in one realistic place. Here each
single-line secret is also put under a secret-looking name in each common format (.env,
YAML, TOML, INI, JSON, shell, Python, a command-line flag, an HTTP header), raw and as it
appears inside a JSON transcript line: every one must be removed whole.
"""
import json
import pathlib
import re

import pytest

import traces

# Each test twice: with ahocorasick_rs's pre-filter and without it (conftest.py).
pytestmark = pytest.mark.usefixtures("both_redaction_paths")

MANIFEST = json.loads((pathlib.Path(__file__).parent / "fixtures" / "redact_corpus" / "manifest.json").read_text())
VALUES = sorted({e["secret"] for e in MANIFEST if re.fullmatch(r"[^\s'\"\\]{8,}", e["secret"])})
FORMATS = {
    "env": "API_TOKEN={v}",
    "yaml": "  api_token: {v}",
    "yaml-quoted": '  api_token: "{v}"',
    "toml": 'api_token = "{v}"',
    "ini": "api_token = {v}",
    "json": '{{"api_token": "{v}", "retries": 3}}',
    "shell": "export API_TOKEN='{v}'",
    "python": 'API_TOKEN = "{v}"',
    "flag": "deploy --token {v} --verbose",
    "header": "curl -H 'Authorization: Bearer {v}' https://api.example.com",
    "docker-env": "docker run -e DB_PASSWORD={v} postgres",
    "url-query": "https://api.example.com/v1/items?access_token={v}&page=2",
}


def test_the_corpus_gives_enough_values():
    assert len(VALUES) >= 60


@pytest.mark.parametrize("form", list(FORMATS))
def test_each_secret_in_each_format_is_removed(form):
    missed = []
    for value in VALUES:
        if form == "header" and not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", value):
            continue            # a bearer token is a b64token (RFC 6750): no `$`, `,` or `%` in it
        line = FORMATS[form].format(v=value)
        for text, shown in ((line, value), (json.dumps(line), json.dumps(value)[1:-1])):
            if shown in traces.redact_text(text):
                missed.append(text)
    assert not missed, f"{len(missed)} of {2 * len(VALUES)} not redacted in {form}: {missed[:5]}"


@pytest.mark.parametrize("line, redacted", [
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", True),    # AWS's documented sample, in real .env files
    ("api_key = 'k9Fq2xSampleZ7'", True),
    ("SECRET_KEY=example-key", False),
    ("token: sample_token", False),
    ("password: EXAMPLE", False),
])
def test_a_placeholder_word_must_start_a_word(line, redacted):
    assert ("[REDACTED:" in traces.redact_text(line)) is redacted
