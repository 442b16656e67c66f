#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Test keys and tokens from independent implementations: Debian's PyJWT
(python3-jwt) and python3-cryptography. Nothing here is committed key
material: every key is generated when a test runs.

  mint.py keys DIR          private keys (PEM) and JWK Sets in DIR:
                            jwks.json (rsa, ec, ed, with kids), one-key sets
                            rsa.json / ec.json / ed.json (no kid), rsa1024.json,
                            and other.pem (a key of no set)
  mint.py token DIR [opts]  print a token (see --help)
  mint.py cases DIR NOW     write DIR/cases/<name>.jwt: every case of
                            tests/unit/test_jwt.c, minted for clock NOW
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


KEYS = {  # name: (generator, alg, kid)
    "rsa": (lambda: rsa.generate_private_key(65537, 2048), "RS256", "rsa-1"),
    "ec": (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256", "ec-1"),
    "ed": (lambda: ed25519.Ed25519PrivateKey.generate(), "EdDSA", "ed-1"),
}


def public_jwk(priv, kid):
    pub = priv.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(pub))
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        jwk = json.loads(ECAlgorithm.to_jwk(pub))
        # PyJWT 2.6 (Debian 12) drops leading zero bytes of x and y; RFC
        # 7518 6.2.1.2 wants the full 32 bytes, which usersvc insists on.
        # One key in 128 came out short and made a test fail at random.
        nums = pub.public_numbers()
        jwk["x"] = b64(nums.x.to_bytes(32, "big"))
        jwk["y"] = b64(nums.y.to_bytes(32, "big"))
    else:
        jwk = json.loads(OKPAlgorithm.to_jwk(pub))
    jwk = {k: v for k, v in jwk.items() if k not in ("key_ops", "alg")}
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def write_pem(path, priv):
    data = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def load_pem(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def cmd_keys(d):
    os.makedirs(d, exist_ok=True)
    jwks = []
    for name, (gen, _alg, kid) in KEYS.items():
        priv = gen()
        write_pem(os.path.join(d, name + ".pem"), priv)
        jwks.append(public_jwk(priv, kid))
        write_json(os.path.join(d, name + ".json"), {"keys": [public_jwk(priv, None)]})
    write_json(os.path.join(d, "jwks.json"), {"keys": jwks})
    write_pem(os.path.join(d, "other.pem"), rsa.generate_private_key(65537, 2048))
    weak = rsa.generate_private_key(65537, 1024)
    write_json(os.path.join(d, "rsa1024.json"), {"keys": [public_jwk(weak, "weak")]})
    write_pem(os.path.join(d, "rsa1024.pem"), weak)


def sign_raw(header, payload, key_name, d):
    """Sign exactly these header and payload bytes (duplicates allowed)."""
    priv = load_pem(os.path.join(d, key_name + ".pem"))
    signing_input = (b64(header) + "." + b64(payload)).encode()
    if isinstance(priv, rsa.RSAPrivateKey):
        sig = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, priv)
    elif isinstance(priv, ec.EllipticCurvePrivateKey):
        sig = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, priv)
    else:
        sig = OKPAlgorithm().sign(signing_input, priv)
    return signing_input.decode() + "." + b64(sig)


def mint(d, key="rsa", alg=None, kid="default", now=None, exp=600, nbf=None, iat=0,
         iss=None, aud=None, scope="users:read users:write metrics:read", sub="alice",
         typ="JWT", extra_header=None):
    """A token from PyJWT. Times are offsets from @now; None leaves a claim out."""
    now = int(time.time()) if now is None else now
    base = key if key in KEYS else "rsa"
    alg = alg or KEYS[base][1]
    if kid == "default":
        kid = KEYS[base][2]
    claims = {}
    for name, off in (("exp", exp), ("nbf", nbf), ("iat", iat)):
        if off is not None:
            claims[name] = now + off
    for name, v in (("iss", iss), ("aud", aud), ("scope", scope), ("sub", sub)):
        if v is not None:
            claims[name] = v
    headers = {"typ": typ} if typ is not None else {}
    if kid is not None:
        headers["kid"] = kid
    headers.update(extra_header or {})
    priv = load_pem(os.path.join(d, key + ".pem"))
    token = jwt.encode(claims, priv, algorithm=alg, headers=headers)
    if typ is None:
        # PyJWT always writes typ; re-sign without it.
        h = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        h.pop("typ", None)
        payload = base64.urlsafe_b64decode(token.split(".")[1] + "==")
        token = sign_raw(json.dumps(h).encode(), payload, key, d)
    return token


def hs256_with_public_key(d, now, key="rsa"):
    """The algorithm-confusion attack: HS256 keyed with the public key's bytes."""
    priv = load_pem(os.path.join(d, key + ".pem"))
    pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    header = json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEYS[key][2]}).encode()
    payload = json.dumps({"sub": "mallory", "exp": now + 600,
                          "scope": "users:read users:write"}).encode()
    signing_input = (b64(header) + "." + b64(payload)).encode()
    return signing_input.decode() + "." + b64(hmac.new(pem, signing_input,
                                                       hashlib.sha256).digest())


def alg_none(now):
    header = json.dumps({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).encode()
    payload = json.dumps({"sub": "mallory", "exp": now + 600, "scope": "users:read"}).encode()
    return b64(header) + "." + b64(payload) + "."


def tamper(token):
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    claims["scope"] = "users:read users:write metrics:read"
    claims["sub"] = "mallory"
    return h + "." + b64(json.dumps(claims).encode()) + "." + s


def cases(d, now):
    """Every case of the unit tests: name -> token."""
    c = {
        "rs256": mint(d, "rsa", now=now),
        "es256": mint(d, "ec", now=now),
        "eddsa": mint(d, "ed", now=now),
        "typ_absent": mint(d, "rsa", now=now, typ=None),
        "typ_at_jwt": mint(d, "ec", now=now, typ="at+jwt"),
        "typ_other": mint(d, "rsa", now=now, typ="JOSE+JSON"),
        "expired": mint(d, "rsa", now=now, exp=-120, iat=-600),
        "expired_within_leeway": mint(d, "rsa", now=now, exp=-10, iat=-600),
        "not_yet_valid": mint(d, "rsa", now=now, nbf=300),
        "iat_future": mint(d, "rsa", now=now, iat=300),
        "no_exp": mint(d, "rsa", now=now, exp=None),
        "issuer_ok": mint(d, "rsa", now=now, iss="https://issuer.test"),
        "wrong_issuer": mint(d, "rsa", now=now, iss="https://evil.test"),
        "audience_ok": mint(d, "ed", now=now, aud="usersvc"),
        "audience_array_ok": mint(d, "ed", now=now, aud=["other", "usersvc"]),
        "wrong_audience": mint(d, "ed", now=now, aud=["other", "usersvc2"]),
        "wrong_key": mint(d, "other", alg="RS256", kid="rsa-1", now=now),
        "unknown_kid": mint(d, "rsa", kid="nope", now=now),
        "no_kid": mint(d, "rsa", kid=None, now=now),
        "kid_of_other_type": mint(d, "rsa", kid="ec-1", now=now),
        "alg_none": alg_none(now),
        "hs256_public_key": hs256_with_public_key(d, now),
        "ps256": mint(d, "rsa", alg="PS256", now=now),
        "crit": mint(d, "rsa", now=now, extra_header={"crit": ["exp"], "exp": 1}),
        "scope_prefix": mint(d, "rsa", now=now, scope="users:rea users:readx metrics"),
        "no_scope": mint(d, "rsa", now=now, scope=None),
        "max_subject": mint(d, "rsa", now=now, sub="s" * 255),
        "long_subject": mint(d, "rsa", now=now, sub="s" * 256),
    }
    good = c["rs256"]
    h, p, s = good.split(".")
    c["tampered"] = tamper(good)
    c["truncated_signature"] = h + "." + p + "." + s[:256]  # whole base64 groups
    c["extra_segment"] = good + "." + s
    c["padded_segment"] = h + "." + p + "." + s + "=="
    c["huge"] = h + "." + p + "." + s + "A" * (10240 - len(good))
    dup = ('{"sub":"alice","exp":%d,"scope":"metrics:read","scope":"users:read users:write"}'
           % (now + 600)).encode()
    c["duplicate_claims"] = sign_raw(b'{"alg":"RS256","kid":"rsa-1"}', dup, "rsa", d)
    deep = '{"alg":"RS256","kid":"rsa-1","x":' + "[" * 2000 + "]" * 2000 + "}"
    c["deep_header"] = b64(deep.encode()) + "." + p + "." + s
    c["duplicate_header"] = sign_raw(b'{"alg":"RS256","kid":"rsa-1","kid":"ec-1"}',
                                     ('{"sub":"a","exp":%d}' % (now + 600)).encode(), "rsa", d)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keys")
    k.add_argument("dir")
    t = sub.add_parser("token")
    t.add_argument("dir")
    t.add_argument("--key", default="rsa", help="rsa, ec, ed, other or rsa1024")
    t.add_argument("--alg")
    t.add_argument("--kid", default="default", help="'none' leaves kid out")
    t.add_argument("--exp", type=int, default=600, help="seconds from now")
    t.add_argument("--nbf", type=int)
    t.add_argument("--iat", type=int, default=0)
    t.add_argument("--iss")
    t.add_argument("--aud")
    t.add_argument("--scope", default="users:read users:write metrics:read")
    t.add_argument("--sub", default="alice")
    t.add_argument("--case", help="print this case of 'cases' instead")
    c = sub.add_parser("cases")
    c.add_argument("dir")
    c.add_argument("now", type=int)
    a = ap.parse_args()
    if a.cmd == "keys":
        cmd_keys(a.dir)
    elif a.cmd == "token":
        if a.case:
            print(cases(a.dir, int(time.time()))[a.case])
            return
        print(mint(a.dir, a.key, alg=a.alg, kid=None if a.kid == "none" else a.kid,
                   exp=a.exp, nbf=a.nbf, iat=a.iat, iss=a.iss, aud=a.aud,
                   scope=None if a.scope == "none" else a.scope, sub=a.sub))
    else:
        os.makedirs(os.path.join(a.dir, "cases"), exist_ok=True)
        for name, token in cases(a.dir, a.now).items():
            with open(os.path.join(a.dir, "cases", name + ".jwt"), "w") as f:
                f.write(token)


if __name__ == "__main__":
    sys.exit(main())
