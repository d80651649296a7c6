"""Redaction on cases held out while the rules of issue 20 were written (quoted flag values,
passwords given as a short flag or an argument, credentials passed positionally): written
after the rules, scored once (30/30 removed; one look-alike of 20, `--max-token 512`,
redacted, fixed since), kept so that neither regresses."""
import json

import pytest

import traces

# Each test twice: with ahocorasick_rs's pre-filter and without it (conftest.py).
pytestmark = pytest.mark.usefixtures("both_redaction_paths")

SECRETS = [
    ("mlflow server --backend-store-uri x --password \"Tr0ub4dor &3\"", "Tr0ub4dor &3"),
    ("./deploy.sh --admin-password='c0rrect horse' --yes", "c0rrect horse"),
    ("vault login -method=userpass username=ops password='Zq9!pLm2'", "Zq9!pLm2"),
    ("kubectl create secret generic db --from-literal=password='Hx8#kLq2v'", "Hx8#kLq2v"),
    ("mysqladmin -uroot -pK9vLq2Zx status", "K9vLq2Zx"),
    ("mysql --user=root --password='Pq 8 zz' shop", "Pq 8 zz"),
    ("sshpass -p\"Vb7nMq2w\" rsync -a src/ host:dst/", "Vb7nMq2w"),
    ("redis-cli -h 10.0.0.3 -p 6380 -a 'rQ8 vX2' info", "rQ8 vX2"),
    ("mongodump --uri x -u backup -p Lm4Xq9Ws --out /tmp/d", "Lm4Xq9Ws"),
    ("podman login -u ci -p Gh5Tn8Wq quay.io", "Gh5Tn8Wq"),
    ("cf login -a https://api.run.example.com -u dev@example.com -p 'Ks7 Pw3x'", "Ks7 Pw3x"),
    ("htpasswd -bB -C 12 /etc/apache2/.htpasswd dana Wq3Lz8Np", "Wq3Lz8Np"),
    ("htpasswd -nb eve 'Mx2 Qp7'", "Mx2 Qp7"),
    ("curl --user 'deploy:Jt6Rm2Kx' https://nexus.example.com/repo", "Jt6Rm2Kx"),
    ("wget --ftp-password=Yp3Vn7Qs ftp://files.example.com/a", "Yp3Vn7Qs"),
    ("keytool -genkeypair -keystore ks.jks -storepass Rt5Xw9Lm -keypass Rt5Xw9Ln", "Rt5Xw9Lm"),
    ("openssl req -new -key k.pem -passin 'pass:Nb8Cv3Zx'", "Nb8Cv3Zx"),
    ("psql 'host=db.internal port=5432 dbname=ledger user=ro password=Fq7Wk2Ls sslmode=require'", "Fq7Wk2Ls"),
    ("Server=tcp:db,1433;Database=app;User ID=sa;Password=Dk4Hs8Pz;", "Dk4Hs8Pz"),
    ("twilio_client = TwilioClient('AC" + "3f" * 16 + "', '" + "9a1b" * 8 + "')", "9a1b" * 8),
    ('client = Client("SK' + "0c" * 16 + '", "Qm3Vz8Lp2Wn7Xk4Rt9Bs6Hd1Fy5Gc0Jt", "AC' + "5e" * 16 + '")',
     "Qm3Vz8Lp2Wn7Xk4Rt9Bs6Hd1Fy5Gc0Jt"),
    ("session = boto3.session.Session('AKIAQ7XZ3LMN8PRS2TUV', 'mN4/pQ8+rS2tU6vW0xY4zA8bC2dE6fG0hI4jK8lM')",
     "mN4/pQ8+rS2tU6vW0xY4zA8bC2dE6fG0hI4jK8lM"),
    ("AKIAQ7XZ3LMN8PRS2TUW:mN4/pQ8+rS2tU6vW0xY4zA8bC2dE6fG0hI4jK8lN", "mN4/pQ8+rS2tU6vW0xY4zA8bC2dE6fG0hI4jK8lN"),
    ("cred = ClientSecretCredential(TENANT, CLIENT, 'Xy7Q~abcDEF123ghiJKL456mnoPQR789stuVW0')",
     "Xy7Q~abcDEF123ghiJKL456mnoPQR789stuVW0"),
    ("r = requests.get(url, auth=HTTPDigestAuth('svc', 'Hp9Lx2Qw'))", "Hp9Lx2Qw"),
    ("imap.login('me@example.com', 'Zt4Kp8Wm')", "Zt4Kp8Wm"),
    ("auth = tweepy.OAuthHandler('ck1234567890abcdefghijk', 'Cs9Xq2Lm7Vb4Nz1Pw8Rt5Ky3Hg6Jd0Fs2Qa9Wx4Ez7Tc1')",
     "Cs9Xq2Lm7Vb4Nz1Pw8Rt5Ky3Hg6Jd0Fs2Qa9Wx4Ez7Tc1"),
    ("az login --service-principal --username 1111 --password 'Ab1Q~xyz' --tenant t", "Ab1Q~xyz"),
    ("docker login --username bot --password 'Lq7 Mx2' ghcr.io", "Lq7 Mx2"),
    ("sqlcmd -S tcp:db -U sa -P 'Qp8 Lm3' -d app", "Qp8 Lm3"),
]

LOOKALIKES = [
    "docker run -d -p 127.0.0.1:5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres",
    "redis-cli -h cache -p 6379 ping",
    "mysql -h db -u root -p",
    "mysql -u root -p shop < dump.sql",
    "htpasswd -D .htpasswd bob",
    "curl -u $USER:$TOKEN https://api.example.com",
    "scp -P 2222 a host:b && rsync -a -p src dst",
    "pytest -p no:cacheprovider -q",
    "git log --format=%H -n 1 && md5sum a b",
    "d41d8cd98f00b204e9800998ecf8427e, 0cc175b9c0f1b6a831c399e269772661",
    "tool --token-budget 2000 --max-token 512",
    "sshpass -f ~/.pw ssh host",
    "openssl pkcs12 -in a.p12 -passin stdin",
    "keytool -list -keystore ks.jks -storepass:env STOREPASS",
    "server.login(cfg.user, cfg.password)",
    "auth = HTTPBasicAuth(username, password)",
    "client = Client(account_sid, auth_token, region='ie1')",
    'psql "host=db dbname=app user=app"',
    "sort -k2 tokens.txt | uniq -c",
    "npm install --save-dev @types/passport-local",
]


@pytest.mark.parametrize("line, secret", SECRETS, ids=lambda case: case[:40] if isinstance(case, str) else "")
def test_held_out_secret_is_removed(line, secret):
    assert secret not in traces.redact_text(line)
    assert json.dumps(secret)[1:-1] not in traces.redact_text(json.dumps(line))


@pytest.mark.parametrize("line", LOOKALIKES, ids=lambda line: line[:40])
def test_held_out_lookalike_is_left_byte_identical(line):
    assert traces.redact_text(line) == line
    assert traces.redact_text(json.dumps(line)) == json.dumps(line)
