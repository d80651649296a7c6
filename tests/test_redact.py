"""Redaction: built-in rules, the seeded corpus, redact_value, user patterns."""
import importlib.util
import json
import pathlib
import random
import re

import pytest

import traces

# Each test twice: with ahocorasick_rs's pre-filter and without it (conftest.py).
pytestmark = pytest.mark.usefixtures("both_redaction_paths")

CORPUS = pathlib.Path(__file__).parent / "fixtures" / "redact_corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
CLEAN_FILES = sorted((CORPUS / "clean").iterdir())


# Corpus ######################################################################

@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: f"{e['kind']}:{e['file']}")
def test_planted_secret_is_redacted_as_its_kind(entry):
    redacted = traces.redact_text((CORPUS / entry["file"]).read_text())
    assert entry["secret"] not in redacted
    assert f"[REDACTED:{entry['kind']}]" in redacted


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: f"{e['kind']}:{e['file']}")
def test_planted_secret_is_redacted_inside_json(entry):
    # Transcript lines are JSON: quotes arrive as \" and newlines as \n.
    redacted = traces.redact_text(json.dumps((CORPUS / entry["file"]).read_text()))
    assert json.dumps(entry["secret"])[1:-1] not in redacted
    assert f"[REDACTED:{entry['kind']}]" in redacted


@pytest.mark.parametrize("path", CLEAN_FILES, ids=lambda p: p.name)
def test_ordinary_code_is_left_byte_identical(path):
    text = path.read_text()
    assert traces.redact_text(text) == text
    assert traces.redact_text(json.dumps(text)) == json.dumps(text)


@pytest.mark.parametrize("path", sorted((CORPUS / "secrets").iterdir()), ids=lambda p: p.name)
def test_redacting_a_redacted_file_changes_nothing(path):
    once = traces.redact_text(path.read_text())
    assert traces.redact_text(once) == once


def test_corpus_matches_its_generator_and_stays_small():
    spec = importlib.util.spec_from_file_location("generate", CORPUS / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for relative, text in generate.build().items():
        assert (CORPUS / relative).read_text() == text, f"rerun {CORPUS / 'generate.py'}"
    assert sum(p.stat().st_size for p in CORPUS.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts) < 80_000


def recall_by_kind():
    """{kind: (planted, fully removed)} over the corpus, each file redacted as it is and as a
    JSON string (how transcript lines carry it)."""
    table = {}
    for entry in MANIFEST:
        text = (CORPUS / entry["file"]).read_text()
        removed = (entry["secret"] not in traces.redact_text(text)
                   and json.dumps(entry["secret"])[1:-1] not in traces.redact_text(json.dumps(text)))
        planted, found = table.get(entry["kind"], (0, 0))
        table[entry["kind"]] = (planted + 1, found + removed)
    return table


def test_recall_by_kind_over_the_corpus(capsys):
    table = recall_by_kind()
    with capsys.disabled():
        print("\nkind                     planted  removed  recall")
        for kind, (planted, found) in sorted(table.items()):
            print(f"{kind:24} {planted:7} {found:8} {found / planted:7.0%}")
    planted = sum(p for p, _ in table.values())
    found = sum(f for _, f in table.values())
    assert found / planted >= 0.99, table
    assert {kind for kind, _, _ in traces.REDACTIONS} <= set(table)


def test_every_family_is_in_the_corpus():
    families = {entry["family"] for entry in MANIFEST}
    assert families >= {"aws", "gcp", "azure", "github", "gitlab", "npm", "pypi", "docker", "slack",
                        "sendgrid", "stripe", "twilio", "huggingface", "openai", "anthropic", "dsn",
                        "private-key", "jwt", "kubeconfig", "netrc", "pgpass", "cli", "http", "config",
                        "python"}


LOOKALIKES = (CORPUS / "lookalikes.txt").read_text().splitlines(keepends=True)


@pytest.mark.parametrize("line", LOOKALIKES, ids=lambda line: line[:40])
def test_lookalike_is_left_byte_identical(line):
    assert traces.redact_text(line) == line
    assert traces.redact_text(json.dumps(line)) == json.dumps(line)


def test_no_false_positive_in_the_lookalike_corpus():
    text = "".join(LOOKALIKES)
    assert traces.redact_text(text) == text
    assert traces.redact_value({"lines": LOOKALIKES}) == {"lines": LOOKALIKES}


# One example per rule ########################################################

REDACTED = [
    ("aws_access_key_id = AKIAFAKE0123456789AB",
     "aws_access_key_id = [REDACTED:aws-access-key-id]"),
    ('"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY000"',
     '"SecretAccessKey": "[REDACTED:aws-secret-access-key]"'),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY000",
     "AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-access-key]"),
    ("token ghp_FAKE0123456789abcdefghijklmnopqrstuv ok",
     "token [REDACTED:github-token] ok"),
    ("gho_FAKE0123456789abcdefghijklmnopqrstuv", "[REDACTED:github-token]"),
    ("github_pat_11FAKE0123456789_abcdefghijklmnopqrstuvwxyz",
     "[REDACTED:github-token]"),
    ("glpat-FAKE0123456789abcdef", "[REDACTED:gitlab-token]"),
    # The 5-character prefixes too, after a word (their word-start check once looked a
    # character too far back).
    ("use gldt-FAKE0123456789abcdef", "use [REDACTED:gitlab-token]"),
    ("runner glrt-FAKE0123456789abcdef", "runner [REDACTED:gitlab-token]"),
    ("glptt-FAKE0123456789abcdef", "[REDACTED:gitlab-token]"),
    ("xoxp-1234-5678-FAKEabcdef", "[REDACTED:slack-token]"),
    ("https://hooks.slack.com/services/T000FAKE/B000FAKE/q7Wm2RtFAKEx9Lp4Zc8N",
     "https://hooks.slack.com/services/[REDACTED:slack-webhook]"),
    ("sk_test_FAKE0123456789abcdef", "[REDACTED:stripe-key]"),
    ("rk_live_FAKE0123456789abcdef", "[REDACTED:stripe-key]"),
    ("pk_live_FAKE0123456789abcdef", "[REDACTED:stripe-key]"),
    ("mlflow-cli --password hunter2 --user bob", "mlflow-cli --password [REDACTED:flag-secret] --user bob"),
    ("tool --token=abc --verbose", "tool --token=[REDACTED:flag-secret] --verbose"),
    ("curl -u alice:s3cret https://api.example.com", "curl -u alice:[REDACTED:flag-secret] https://api.example.com"),
    ("curl --user alice:s3cret -X POST", "curl --user alice:[REDACTED:flag-secret] -X POST"),
    ("vault login --api-key xyz", "vault login --api-key [REDACTED:flag-secret]"),
    ("SENDGRID_KEY is SG.FAKEfake0123456789abcd.FAKEfake0123456789abcdefghijklmnopqrstuvwx0",
     "SENDGRID_KEY is [REDACTED:sendgrid-key]"),
    ("huggingface-cli login --token hf_FAKEfake0123456789abcdefghijklmnop",
     "huggingface-cli login --token [REDACTED:huggingface-token]"),
    ("//registry.npmjs.org/:_authToken=npm_FAKEfake0123456789abcdefghijklmnopqr",
     "//registry.npmjs.org/:_authToken=[REDACTED:npm-token]"),
    ("twine upload -p pypi-AgEIcHlwaS5vcmcCJDFAKEfake0123456789abcdefghijklmnopqrstuvwxyz0123",
     "twine upload -p [REDACTED:pypi-token]"),
    ("sk-ant-api03-FAKE0123456789abcdef_xyz-AA", "[REDACTED:anthropic-key]"),
    ("key: sk-FAKE0123456789abcdefghijklmnop", "key: [REDACTED:openai-key]"),
    ("sk-proj-FAKE_0123456789-abcdefghij", "[REDACTED:openai-key]"),
    ("AIzaFAKE0123456789abcdefghijklmnopqrstu", "[REDACTED:google-api-key]"),
    ("dapi0123456789abcdef0123456789abcdef-2", "[REDACTED:databricks-token]"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.c2lnbmF0dXJlLWZha2U",
     "[REDACTED:jwt]"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAFAKE\n"
     "-----END OPENSSH PRIVATE KEY-----\ndone", "[REDACTED:private-key]\ndone"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAKE\n...[output truncated]",
     "[REDACTED:private-key]...[output truncated]"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQdGBF4FAKE\n-----END PGP PRIVATE KEY BLOCK-----",
     "[REDACTED:private-key]"),
    ("git remote add origin https://bob:s3cr3t@git.example.com/x.git",
     "git remote add origin https://bob:[REDACTED:url-password]@git.example.com/x.git"),
    ("redis://:hunter2@cache:6379", "redis://:[REDACTED:url-password]@cache:6379"),
    ("curl -H 'Authorization: Bearer abc.DEF-123_456~789+/='",
     "curl -H 'Authorization: Bearer [REDACTED:bearer]'"),
    ("Authorization: token 0123456789abcdef0123",
     "Authorization: token [REDACTED:authorization]"),
    ('{"authorization": "Basic dXNlcjpwYXNz"}',
     '{"authorization": "Basic [REDACTED:authorization]"}'),
    ("twilio SKf0e1d2c3b4a5968778695a4b3c2d1e0f ok", "twilio [REDACTED:twilio-key] ok"),
    ("DefaultEndpointsProtocol=https;AccountName=fake;AccountKey=RkFLRWtleQ0123456789abcdefghij+/==;",
     "DefaultEndpointsProtocol=https;AccountName=fake;AccountKey=[REDACTED:azure-storage-key];"),
    ("https://fake.blob.core.windows.net/c?sv=2022-11-02&sig=FAKEab0123456789cdefghij%3D",
     "https://fake.blob.core.windows.net/c?sv=2022-11-02&sig=[REDACTED:azure-sas]"),
    ("curl -H 'X-API-Key: q7Wm2RtF' https://x", "curl -H 'X-API-Key: [REDACTED:http-header]' https://x"),
    ('{"auths": {"ghcr.io": {"auth": "ZmFrZTpmYWtlcGFzcw=="}}}',
     '{"auths": {"ghcr.io": {"auth": "[REDACTED:registry-auth]"}}}'),
    ("_auth=ZmFrZTpmYWtlcGFzcw==", "_auth=[REDACTED:registry-auth]"),
    ("machine api.example.com login bob password hunter", "machine api.example.com login bob password [REDACTED:netrc-password]"),
    ("db.example.com:5432:app:bob:hunter", "db.example.com:5432:app:bob:[REDACTED:pgpass-password]"),
    ("mysql -u root -pS3cret app", "mysql -u root -p[REDACTED:flag-secret] app"),
    ('requests.get(url, auth=("bob", "hunter"))', 'requests.get(url, auth=("bob", "[REDACTED:flag-secret]"))'),
    # Quoted flag values; passwords taken as a short flag or an argument; positional calls.
    ("tool --password 'two words' -v", "tool --password '[REDACTED:flag-secret]' -v"),
    ('tool --db-password="two words"', 'tool --db-password="[REDACTED:flag-secret]"'),
    ("mysql -u root -p'S3 cret' app", "mysql -u root -p'[REDACTED:flag-secret]' app"),
    ("sshpass -p 'x y' ssh host", "sshpass -p '[REDACTED:flag-secret]' ssh host"),
    ("redis-cli -a hunter ping", "redis-cli -a [REDACTED:flag-secret] ping"),
    ("docker login -u bob -p hunter ghcr.io", "docker login -u bob -p [REDACTED:flag-secret] ghcr.io"),
    ("htpasswd -bc .htpasswd bob hunter", "htpasswd -bc .htpasswd bob [REDACTED:flag-secret]"),
    ("htpasswd -nbB bob 'two words'", "htpasswd -nbB bob '[REDACTED:flag-secret]'"),
    ("openssl rsa -passin pass:hunter", "openssl rsa -passin pass:[REDACTED:flag-secret]"),
    ('smtp.login("bob", "hunter")', 'smtp.login("bob", "[REDACTED:flag-secret]")'),
    ('psql "user=bob password=hunter dbname=app"', 'psql "user=bob password=[REDACTED:env-secret] dbname=app"'),
    ("Server=db;Uid=sa;Pwd=hunter;", "Server=db;Uid=sa;Pwd=[REDACTED:env-secret];"),
    ('Client("AC0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")',
     'Client("AC0123456789abcdef0123456789abcdef", "[REDACTED:twilio-key]")'),
    ("AKIAFAKE0123456789AB,wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY000",
     "[REDACTED:aws-access-key-id],[REDACTED:aws-secret-access-key]"),
    ('ClientSecretCredential(t, c, "abc8Q~FAKE0123456789abcdefghijklmnopqrs")',
     'ClientSecretCredential(t, c, "[REDACTED:azure-client-secret]")'),
    ("DB_PASSWORD=hunter", "DB_PASSWORD=[REDACTED:env-secret]"),
    ("export GITHUB_TOKEN=abc123", "export GITHUB_TOKEN=[REDACTED:env-secret]"),
    ("docker run -e DB_PASSWORD=s3cret -p 5432:5432 postgres",
     "docker run -e DB_PASSWORD=[REDACTED:env-secret] -p 5432:5432 postgres"),
    ("MYSQL_PASS=root docker compose up", "MYSQL_PASS=[REDACTED:env-secret] docker compose up"),
    ("  DB_PASSWORD: hunter", "  DB_PASSWORD: [REDACTED:env-secret]"),
    ('API_KEY="two words"', 'API_KEY="[REDACTED:env-secret]"'),
    ("SECRET_KEY = 'django-insecure-x'", "SECRET_KEY = '[REDACTED:env-secret]'"),
    ('os.environ["API_TOKEN"] = "abcd"', 'os.environ["API_TOKEN"] = "[REDACTED:env-secret]"'),
    ('{"clientSecret": "x1"}', '{"clientSecret": "[REDACTED:env-secret]"}'),
    ("password: hunter2", "password: [REDACTED:env-secret]"),
    ("GET /cb?access_token=a1b2c3d4&state=x", "GET /cb?access_token=[REDACTED:env-secret]&state=x"),
]

LEFT_ALONE = [
    "MAX_TOKENS=4096",
    "hf_hub_download(repo_id='gpt2')",
    "docker login --password-stdin < token.txt",
    "gh auth login --token $GH_TOKEN",
    "tool --token-file ~/.token --password ${PW}",
    "ls -u --sort=time",
    "cut -d: -f1 /etc/passwd",
    "npm_config_cache=/tmp/npm",
    "SG.setApiKey(process.env.SENDGRID_API_KEY)",
    "pip install pypi-simple",
    "max_tokens=4096",
    '"max_tokens": 4096',
    "TOKEN=$OTHER",
    "TOKEN=${OTHER}",
    "export TOKEN=$(gh auth token)",
    'password = os.environ["DB_PASSWORD"]',
    "password = getpass.getpass()",
    "login(username=username, password=password)",
    "def f(token: str, password: str = None):",
    "api_key = api_key or os.getenv('X')",
    "if token == other_token2:",
    '"eos_token": "</s>"',
    '"pad_token": "[PAD]"',
    "git@github.com:org/repo.git",
    "ssh://git@github.com:22/org/repo.git",
    "https://example.com:8443/path?q=1",
    "postgres://user:<password>@localhost/db",
    "postgres://user:${PGPASSWORD}@localhost/db",
    "risk-assessment-summary-panel-2024-final",
    "Bearer tokens are issued by the identity service",
    "Authorization: Bearer <token>",
    "Authorization: required",
    "secretName: db-credentials-v2",
    "TOKEN_URL=https://auth.example.com/token",
    "bypass: abc123",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "tool --password-file /etc/pw --token-limit 100 --no-password x",
    "docker buildx build --secret id=npmrc,src=.npmrc .",
    "mysql -u root -p app && ssh -l login -p 22 host && mkdir -p a",
    "openssl enc -passin env:PASS -pass file:pw.txt",
    "htpasswd -c .htpasswd bob",
    "git log 0123456789abcdef0123456789abcdef, fedcba9876543210fedcba9876543210",
    "",
]


@pytest.mark.parametrize("text, expected", REDACTED)
def test_rule_redacts(text, expected):
    assert traces.redact_text(text) == expected


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_rule_leaves_lookalikes_alone(text):
    assert traces.redact_text(text) == text


def test_every_kind_has_an_example():
    kinds = {kind for kind, _, _ in traces.REDACTIONS}
    shown = {m for _, expected in REDACTED for m in re.findall(r"\[REDACTED:([a-z-]+)\]", expected)}
    assert kinds == shown


def assert_triggered_wherever_it_matches(text):
    """A rule that its trigger skips when it can match would let that secret through. A rule
    runs only on the lines where it was triggered (but a private key's, on the whole text),
    so each match must also lie on one line and be triggered there."""
    triggered = traces._triggered(text)
    for index, (kind, regex, _) in enumerate(traces.REDACTIONS):
        match = regex.search(text)
        assert not match or index in triggered, (kind, match.group())
        if kind == "private-key":
            continue
        for match in regex.finditer(text):
            start, end = text.rfind("\n", 0, match.start()) + 1, text.find("\n", match.start())
            line = text[start:] if end < 0 else text[start:end]
            assert "\n" not in match.group() and index in traces._triggered(line), (kind, match.group())


@pytest.mark.parametrize("text, expected", REDACTED)
def test_rule_is_triggered_by_every_match(text, expected):
    assert_triggered_wherever_it_matches(text)
    assert_triggered_wherever_it_matches(json.dumps(text))


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: f"{e['kind']}:{e['file']}")
def test_rule_is_triggered_by_every_match_in_the_corpus(entry):
    text = (CORPUS / entry["file"]).read_text()
    assert_triggered_wherever_it_matches(text)
    assert_triggered_wherever_it_matches(json.dumps(text))


def test_triggers_open_with_a_literal_and_capture_nothing():
    # `re` skips quickly only to the characters that open every branch; and each trigger's
    # rules are told by the one group that the trigger expression adds after it.
    trigger, rules = traces._trigger()
    assert trigger.groups == len(rules) - 1
    for kind, _, triggers in traces.REDACTIONS:
        for fragment in triggers:
            opening = fragment[:2] if fragment[0] == "\\" else fragment[0]
            assert re.fullmatch(r"\\[^A-Za-z0-9]|[^\\()\[\].^$*+?{}|]", opening), (kind, fragment)
            assert re.compile(fragment).groups == 0, (kind, fragment)


# Idempotency #################################################################

@pytest.mark.parametrize("kind", sorted({kind for kind, _, _ in traces.REDACTIONS} | {"custom"}))
def test_markers_are_never_redacted_again(kind):
    for template in ("{}", "TOKEN={}", 'password: "{}"', "Bearer {}", "https://u:{}@h",
                     "Authorization: Basic {}", "password: {}"):
        text = template.format(f"[REDACTED:{kind}]")
        assert traces.redact_text(text) == text


def test_redaction_is_idempotent_on_shuffled_fragments():
    fragments = [text for text, _ in REDACTED] + LEFT_ALONE + [" ", "\n", "=", ":", '"', "@"]
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(fragments) for _ in range(rng.randrange(1, 6)))
        once = traces.redact_text(text)
        assert traces.redact_text(once) == once, text


# redact_value ################################################################

def test_redact_value_walks_nested_structures_and_keeps_keys():
    token = "ghp_FAKE0123456789abcdefghijklmnopqrstuv"
    value = {
        "tool": "Bash",
        "input": {"command": f"gh auth login --with-token {token}", "timeout": 30},
        "lines": [f"export GH_TOKEN={token}", ("a", f"Bearer {token}"), None, 1.5, True],
        token: "keys are kept",
    }
    original = json.dumps(value)
    redacted = traces.redact_value(value)
    assert redacted == {
        "tool": "Bash",
        "input": {"command": "gh auth login --with-token [REDACTED:github-token]", "timeout": 30},
        "lines": ["export GH_TOKEN=[REDACTED:github-token]",
                  ("a", "Bearer [REDACTED:github-token]"), None, 1.5, True],
        token: "keys are kept",
    }
    assert json.dumps(value) == original, "the input must not be modified"


def test_redact_value_uses_secret_looking_keys_as_context():
    value = {"env": {"DB_PASSWORD": "hunter", "apiKey": "abc", "MAX_TOKENS": "4096",
                     "TOKEN": "$OTHER", "eos_token": "</s>", "max_tokens": 4096, "user": "bob"}}
    assert traces.redact_value(value) == {"env": {
        "DB_PASSWORD": "[REDACTED:env-secret]", "apiKey": "[REDACTED:env-secret]",
        "MAX_TOKENS": "4096", "TOKEN": "$OTHER", "eos_token": "</s>", "max_tokens": 4096,
        "user": "bob"}}
    # A recognised shape keeps its own kind.
    assert traces.redact_value({"token": "glpat-FAKE0123456789abcdef"}) == {
        "token": "[REDACTED:gitlab-token]"}


def test_redact_value_leaves_non_strings_alone():
    for value in (None, 3, 2.5, True, b"DB_PASSWORD=hunter"):
        assert traces.redact_value(value) is value


def test_redact_value_redacts_a_repeated_long_string_once(monkeypatch):
    # A transcript repeats long strings (a tool's output is in its record twice).
    calls = []
    redact_text = traces.redact_text
    monkeypatch.setattr(traces, "redact_text", lambda text, extra=(): calls.append(text) or redact_text(text, extra))
    output = "token=ghp_" + "a" * 36 + " and the rest of a long tool output\n" * 3
    value = {"message": {"content": output}, "toolUseResult": {"stdout": output}, "again": [output]}
    redacted = traces.redact_value(value)
    assert calls.count(output) == 1
    assert redacted["toolUseResult"]["stdout"] == redacted["message"]["content"] == redacted["again"][0]
    assert "ghp_" not in redacted["again"][0]
    # The user's patterns are part of what was remembered.
    custom = traces.redact_value(output, traces.compile_patterns(["rest of"]))
    assert "[REDACTED:custom]" in custom and custom != redacted["again"][0]


def test_redact_value_forgets_what_it_remembered_past_its_limit(monkeypatch):
    monkeypatch.setattr(traces, "_REDACTED_LIMIT", 1_000)
    traces._REDACTED.clear()
    for n in range(100):
        traces.redact_value(f"{n} a long string that is not a secret, of some hundred characters" * 2)
        assert sum(len(text) for text, *_ in traces._REDACTED) <= 1_000 + 200


# User patterns ###############################################################

def test_custom_patterns_run_after_builtins_as_kind_custom():
    extra = traces.compile_patterns([r"ACME-[0-9]{6}", r"employee=(?P<secret>\w+)"])
    text = "ticket ACME-123456 for employee=jdoe, DB_PASSWORD=x"
    assert traces.redact_text(text, extra) == (
        "ticket [REDACTED:custom] for employee=[REDACTED:custom], DB_PASSWORD=[REDACTED:env-secret]")
    assert traces.redact_value({"a": [text]}, extra) == {"a": [traces.redact_text(text, extra)]}


def test_custom_pattern_that_matches_a_marker_stays_idempotent():
    extra = traces.compile_patterns([r"\[?REDACTED\S*", r"ghp_\w+"])
    once = traces.redact_text("ghp_FAKE0123456789abcdefghijklmnopqrstuv", extra)
    assert once == "[REDACTED:github-token]"
    assert traces.redact_text(once, extra) == once


def test_compile_patterns_names_the_bad_pattern():
    with pytest.raises(ValueError, match=r"invalid redaction pattern '\(unclosed'"):
        traces.compile_patterns(["fine", "(unclosed"])
    with pytest.raises(ValueError, match=r"'x\*' matches the empty string"):
        traces.compile_patterns(["x*"])
    assert traces.compile_patterns([]) == []


def _spellings(word):
    """api_key -> api_key, API_KEY, api-key, apikey, APIKEY, apiKey, ApiKey."""
    parts = word.split("_")
    camel = parts[0] + "".join(part.capitalize() for part in parts[1:])
    return {word, word.upper(), "-".join(parts), "".join(parts), "".join(parts).upper(),
            camel, camel[0].upper() + camel[1:]}


def test_env_secret_trigger_covers_every_name_spelling():
    kind, regex, _ = traces.REDACTIONS[-1]
    assert kind == "env-secret"
    words = list(traces._SECRET_WORDS) + [f"{q}_key" for q in traces._KEY_QUALIFIERS]
    names = {name for word in words for name in _spellings(word)}
    for name in names | {"db_pass", "DB-PASS", "MYSQL_PWD"}:
        assert regex.search(f'{name} = "s3cret-value"'), name
        assert traces.redact_text(f'{name} = "s3cret-value"') == f'{name} = "[REDACTED:env-secret]"'
        assert len(traces.REDACTIONS) - 1 in traces._triggered(f'{name} = "s3cret-value"'), name
    for name in ("MAX_TOKENS", "TOKEN_URL", "token_count", "bypass", "PWD", "monkey", "sort_key"):
        assert traces.redact_text(f'{name} = "s3cret-value"') == f'{name} = "s3cret-value"', name


def test_long_runs_of_names_are_redacted_value_by_value():
    """A 200 KB line of repeated assignments (the shape that made the generic rule rescan the
    rest of the line at every name: minutes per line before 0.8.0) still loses every value;
    tests/test_fuzz.py checks that such lines take linear time."""
    text = "password=s3cr3tValue9 " * 9000
    out = traces.redact_text(text)
    assert out.count("[REDACTED:env-secret]") == 9000 and "s3cr3t" not in out
    glued = "password=a" * 20000      # one 200 KB value: taken in bounded bites, each once
    once = traces.redact_text(glued)
    assert traces.redact_text(once) == once


# The pre-filter ##############################################################

# Lines for the triggers that no case above matches.
TRIGGERED_ELSEWHERE = ["credentials: Hx8kLq2v", "Credentials = Hx8kLq2v", "DB_PWD = Hx8kLq2v", "db_pwd = Hx8kLq2v",
                       "SearchClient.create('APP', 'Hx8kLq2v')", "algoliasearch('APP', 'Hx8kLq2v')",
                       "Configuration.configure(env, 'm', 'p', 'Hx8kLq2v')", "xapp-1-A0123456789-abcdefghij",
                       "bearer abcdefghijklmnop1234", "BEARER abcdefghijklmnop1234"]


def _texts_the_tests_redact():
    """Every text the redaction tests hold (the corpus, the cases of test_redact*.py, the
    fuzz vocabulary's file), as is and as a JSON string."""
    texts = [path.read_text() for path in sorted(CORPUS.rglob("*"))
             if path.is_file() and "__pycache__" not in path.parts]      # generate.py compiled, where bytecode is cached
    texts += [text for text, _ in REDACTED] + LEFT_ALONE + LOOKALIKES + TRIGGERED_ELSEWHERE
    here = pathlib.Path(__file__).parent
    texts += [path.read_text() for path in sorted(here.glob("test_redact*.py")) + [here / "test_fuzz.py"]]
    return texts + [json.dumps(text) for text in texts]


def test_every_trigger_match_lies_on_a_line_holding_one_of_its_anchors():
    # The pre-filter runs the trigger scan only on lines holding an anchor: a match with
    # none would be skipped, and its secret let through.
    texts, matched = _texts_the_tests_redact(), set()
    for kind, _, triggers in traces.REDACTIONS:
        for trigger in triggers:
            anchors, regex = traces._trigger_anchors(trigger), re.compile(trigger)
            assert anchors and "" not in anchors and not any("\n" in anchor for anchor in anchors), trigger
            for text in texts:
                match = regex.search(text)
                while match:
                    start, end = text.rfind("\n", 0, match.start()) + 1, text.find("\n", match.start())
                    line = text[start:] if end < 0 else text[start:end]
                    assert any(anchor in line for anchor in anchors), (kind, trigger, line)
                    matched.add(trigger)
                    match = regex.search(text, match.start() + 1)
    assert matched == {trigger for _, _, triggers in traces.REDACTIONS for trigger in triggers}


def test_every_rule_match_lies_on_a_line_holding_one_of_the_anchors_it_runs_on():
    # The pre-filter runs a rule on the lines holding one of _rule_anchors' anchors, which may
    # be its own regex's rather than its triggers': a redaction on a line with none would be missed.
    texts, matched = _texts_the_tests_redact(), set()
    for index, (kind, regex, _) in enumerate(traces.REDACTIONS):
        anchors, (_, replace) = traces._rule_anchors(traces.REDACTIONS[index]), traces._RULES[index]
        assert anchors and "" not in anchors and not any("\n" in anchor for anchor in anchors), kind
        for text in texts:
            for match in regex.finditer(text):
                if replace(match) == match.group():  # refused by the rule's check (`login(` without a `.`)
                    continue
                start, end = text.rfind("\n", 0, match.start()) + 1, text.find("\n", match.start())
                line = text if index in traces._WHOLE_TEXT_RULES else text[start:] if end < 0 else text[start:end]
                assert any(anchor in line for anchor in anchors), (kind, match.group())
                matched.add(index)
    assert matched == set(range(len(traces.REDACTIONS)))


@pytest.mark.parametrize("pattern, text, anchors", [
    # An optional item: each spelling, with it and without it.
    (r"-pass(?:in|out)?[ \t]", "openssl enc -passin pass:x",
     {"-pass ", "-pass\t", "-passin ", "-passin\t", "-passout ", "-passout\t"}),
    # A `-` precedes `token` however many times `[a-z]+-` repeats.
    (r"--(?:[a-z0-9]{1,20}-){0,3}token=", "cli --gh-api-token=x", {"-token="}),
    # A lookaround takes no characters: `AC` and the hex digit after it are adjacent.
    (r"AC(?:(?<![A-Za-z0-9_].{2})|(?<=\\[nrt].{2}))[0-9a-f]{32}", "sid AC" + "0f" * 16,
     {f"AC{digit}" for digit in "0123456789abcdef"}),
    # The first repetition of `[ \t]{1,20}` follows `Bearer`.
    (r"Bearer[ \t]{1,20}x", "Bearer\t  x", {"Bearer ", "Bearer\t"}),
    # A repeat that may be absent ends the run: `ab` (or `cd`: as long, and found later), not `abcd`.
    (r"ab[0-9]*cd", "ab12cd", {"ab"}),
])
def test_anchors_are_read_across_optional_repeated_and_zero_width_items(pattern, text, anchors):
    assert traces._trigger_anchors(pattern) == anchors
    assert re.search(pattern, text) and any(anchor in text for anchor in anchors)


def test_a_rule_runs_on_its_own_regexs_anchors_where_they_are_longer_than_its_triggers():
    # twine's trigger opens with `-p`, rare for `re`'s scan; the rule itself holds `twine`.
    [twine] = [rule for rule in traces.REDACTIONS if rule[1].pattern.startswith("twine")]
    assert {anchor for trigger in twine[2] for anchor in traces._trigger_anchors(trigger)} == {" -p", "\t-p"}
    assert traces._rule_anchors(twine) == {"twine"}
    if traces._prefilter():
        text = "ls -p\nx\ntwine upload -p Hx8kLq2v dist/*\n"
        lines, line_rules = traces._triggered_lines(text)
        runs = {text[start:end] for (start, end), rules in zip(lines, line_rules, strict=True)
                if traces.REDACTIONS.index(twine) in rules}
        assert runs == {"twine upload -p Hx8kLq2v dist/*"}
        assert "Hx8kLq2v" not in traces.redact_text(text)


def test_caseless_odd_letters_are_all_that_re_matches_outside_ascii():
    # Under (?i) `re` matches `k` as the Kelvin sign, which is not one of the anchor's spellings.
    beyond_ascii = "".join(map(chr, range(0x80, 0x110000)))
    odd = {letter for letter in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
           if re.search(f"(?i){letter}", beyond_ascii)}
    assert odd == set(traces._CASELESS_ODD)


def test_an_anchor_under_ignorecase_leaves_out_what_re_matches_beyond_ascii():
    for trigger, text in [("(?i:token)", "to\u212aen"), ("(?i:secret)", "\u017fecret"), ("(?i:api)", "ap\u0131"),
                          ("x-(?i:key)", "x-\u212aey")]:
        assert re.search(trigger, text)
        assert any(anchor in text for anchor in traces._trigger_anchors(trigger)), trigger


def test_rules_run_only_on_the_lines_holding_an_anchor_of_their_triggers(both_redaction_paths):
    text = "import os\nx = compute(1)\npassword = 'Hx8kLq2v'\nprint(x)\n"
    lines, line_rules = traces._triggered_lines(text)
    [(start, end)], [rules] = lines, line_rules
    assert text[start:end] == "password = 'Hx8kLq2v'"
    kinds = {traces.REDACTIONS[index][0] for index in rules}
    assert "env-secret" in kinds
    if both_redaction_paths == "ahocorasick_rs":  # `password ` anchors the netrc rule too, not `--password `'s
        assert kinds == {"env-secret", "netrc-password"}
    assert traces.redact_text(text) == text.replace("Hx8kLq2v", "[REDACTED:env-secret]")


def test_text_beyond_ascii_is_redacted_at_the_right_characters():
    # The pre-filter finds anchors in the text's UTF-8 bytes; the lines it gives are in characters.
    text = "héllo wörld\n€ password = 'Hx8kLq2v' ü\n😀 nothing\n— token: Zq81xkP0mmWq end\n"
    redacted = text.replace("Hx8kLq2v", "[REDACTED:env-secret]").replace("Zq81xkP0mmWq", "[REDACTED:env-secret]")
    assert traces.redact_text(text) == redacted
    assert traces.redact_text(json.dumps(text, ensure_ascii=False)) == json.dumps(redacted, ensure_ascii=False)


def test_a_lone_surrogate_is_redacted_around():
    # JSON's "\ud800" gives a str that UTF-8, which ahocorasick_rs reads, cannot hold.
    text = json.loads('"\\ud800 x\\npassword = \'Hx8kLq2v\'"')
    assert traces.redact_text(text) == text.replace("Hx8kLq2v", "[REDACTED:env-secret]")


def test_a_secret_dense_transcript_is_redacted_alike_with_and_without_the_prefilter(monkeypatch):
    import bench.bench_redact as bench
    values = [json.loads(line) for line in bench.dense_lines(0.3)[0]]
    with_it = traces.redact_value(values)
    monkeypatch.setattr(traces, "_PREFILTER", [None])
    traces._REDACTED.clear()
    without = traces.redact_value(values)
    assert with_it == without and with_it != values
